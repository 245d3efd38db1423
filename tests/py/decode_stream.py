"""Decode a stream with python-subunit's ByteStreamToStreamResult.

Reads a subunit v2 stream on stdin and prints one JSON object per status()
call, in the format of tests/data/vectors/*.jsonl (json.dumps(obj,
sort_keys=True)). Chatter arrives, as python-subunit's filters see it, as
status(file_name="stdout", file_bytes=...) without a test id. Used by
tests/interop.rs.
"""

import json
import sys

from subunit.v2 import EPOCH, ByteStreamToStreamResult


class Printer(object):
    def __init__(self, stream):
        self.stream = stream

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
        self.stream.write(json.dumps(obj, sort_keys=True) + "\n")


def main():
    result = Printer(sys.stdout)
    result.startTestRun()
    ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout").run(result)
    result.stopTestRun()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
