"""pystorm reliable spout: emits `test.sentences` sentences as [id, sentence] with message
ids "s-<id>", replays failed ones (pystorm's ReliableSpout), and then tells the host it is
exhausted (a Squall extension) so a local run can end.
"""
from pystorm.spout import ReliableSpout

SENTENCES = [
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
]


class Sentences(ReliableSpout):
    max_fails = 1000

    def initialize(self, conf, context):
        self.count = int(conf["test.sentences"])
        self.next_id = 0
        self.told = False

    def next_tuple(self):
        if self.next_id < self.count:
            i = self.next_id
            self.next_id += 1
            self.emit([i, SENTENCES[i % len(SENTENCES)]], tup_id="s-%d" % i)
        elif not self.told:
            self.told = True
            self.send_message({"command": "exhausted"})


if __name__ == "__main__":
    Sentences().run()
