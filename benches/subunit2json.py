"""python-subunit's counterpart of our subunit2json, for benches/compare.py.

Decodes a subunit v2 stream on stdin with python-subunit's
ByteStreamToStreamResult and writes each event as one json.dumps line to
stdout, in our subunit2json's format: {"status", "runnable", "eof"} plus
"timestamp" [seconds, nanos], "test_id", "tags" (sorted), "mime",
"file_name", "file_hex", "route_code" when present; chatter as
{"chatter_hex"}. On a file (no pauses) its output is byte for byte ours.
"""

import json
import sys

from subunit.v2 import EPOCH, ByteStreamToStreamResult

# What the reader names chatter: no packet's file is called this.
CHATTER = "\0chatter"


class JsonLines(object):
    def __init__(self, write):
        self.write = write

    def startTestRun(self):
        pass

    def stopTestRun(self):
        pass

    def status(
        self,
        test_id=None,
        test_status=None,
        test_tags=None,
        runnable=True,
        file_name=None,
        file_bytes=None,
        eof=False,
        mime_type=None,
        route_code=None,
        timestamp=None,
    ):
        if file_name == CHATTER:
            self.write(json.dumps({"chatter_hex": bytes(file_bytes).hex()}) + "\n")
            return
        obj = {"status": test_status, "runnable": runnable, "eof": eof}
        if timestamp is not None:
            since = timestamp - EPOCH
            obj["timestamp"] = [since.days * 86400 + since.seconds, since.microseconds * 1000]
        if test_id is not None:
            obj["test_id"] = test_id
        if test_tags is not None:
            obj["tags"] = sorted(test_tags)
        if mime_type is not None:
            obj["mime"] = mime_type
        if file_name is not None:
            obj["file_name"] = file_name
            obj["file_hex"] = bytes(file_bytes).hex()
        if route_code is not None:
            obj["route_code"] = route_code
        self.write(json.dumps(obj, sort_keys=True) + "\n")


def main():
    out = sys.stdout
    result = JsonLines(out.write)
    result.startTestRun()
    ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name=CHATTER).run(result)
    result.stopTestRun()
    out.flush()


if __name__ == "__main__":
    main()
