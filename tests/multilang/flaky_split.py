"""pystorm bolt: like split_sentence.py, but fails every Nth sentence the first time it
sees it (by the `id` field; N is the conf key `test.fail.every`, default 5).

It fails by raising: pystorm reports the exception (`error`), fails the tuple and, with
`exit_on_exception = False`, goes on. A replayed sentence has been seen, so it passes.
"""
from pystorm import Bolt


class FlakySplit(Bolt):
    exit_on_exception = False

    def initialize(self, conf, context):
        self.every = int(conf.get("test.fail.every", 5))
        self.seen = set()

    def process(self, tup):
        sid = tup.values.id
        if sid not in self.seen:
            self.seen.add(sid)
            if sid % self.every == 0:
                raise ValueError("failing sentence %d the first time" % sid)
        for word in tup.values.sentence.split():
            self.emit([word])


if __name__ == "__main__":
    FlakySplit().run()
