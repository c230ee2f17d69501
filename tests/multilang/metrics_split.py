"""pystorm bolt: splits the `sentence` field into words (field `word`) and reports, for
each sentence, its word count with `report_metric("words", n)` (the multi-lang `metrics`
command, which adds to the task's user counter `words`) and 1 to `sentences`. Also sends
two metrics commands the host must refuse without harm: a non-numeric value and an
invalid name.
"""
from pystorm import Bolt


class MetricsSplit(Bolt):
    def initialize(self, conf, context):
        self.first = True

    def process(self, tup):
        words = tup.values.sentence.split()
        for word in words:
            self.emit([word])
        self.report_metric("words", len(words))
        self.report_metric("sentences", 1)
        if self.first:
            self.first = False
            self.report_metric("words", "many")
            self.report_metric("no spaces allowed", 1)


if __name__ == "__main__":
    MetricsSplit().run()
