"""pystorm bolt: like split_sentence.py, but misbehaves once when it meets sentence
`test.fault.id` for the first time across restarts (a marker file `test.fault.marker`
remembers it): with `test.fault` = "exit" it exits with status 3 before emitting
anything, with "hang" it stops answering (sleeps).
"""
import os
import sys
import time

from pystorm import Bolt


class FaultySplit(Bolt):
    def initialize(self, conf, context):
        self.fault = conf["test.fault"]
        self.fault_id = int(conf["test.fault.id"])
        self.marker = conf["test.fault.marker"]

    def process(self, tup):
        if tup.values.id == self.fault_id and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            if self.fault == "exit":
                sys.stderr.write("faulty_split: exiting on sentence %d\n" % self.fault_id)
                sys.stderr.flush()
                os._exit(3)
            while True:
                time.sleep(3600)
        for word in tup.values.sentence.split():
            self.emit([word])


if __name__ == "__main__":
    FaultySplit().run()
