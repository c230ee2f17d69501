"""pystorm bolt: splits the `sentence` field into words (field `word`).

Emits are anchored to the input and the input is acked after `process` (pystorm's
defaults). Fields are read by name: pystorm builds them from the handshake's
`source->stream->fields`.
"""
from pystorm import Bolt


class SplitSentence(Bolt):
    def process(self, tup):
        for word in tup.values.sentence.split():
            self.emit([word])


if __name__ == "__main__":
    SplitSentence().run()
