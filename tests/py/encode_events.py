"""Encode events with python-subunit's StreamResultToBytes.

Reads JSON Lines events in the format of tests/data/vectors/*.jsonl on stdin
(tags as a list, written in the given order) and writes each with one
StreamResultToBytes.status() call to stdout. Used by tests/interop.rs.
"""

import datetime
import json
import sys

from subunit.v2 import EPOCH, StreamResultToBytes


def main():
    out = StreamResultToBytes(sys.stdout.buffer)
    # Bytes in, so the locale's encoding does not matter.
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        event = json.loads(line.decode("utf-8"))
        timestamp = None
        if "timestamp" in event:
            seconds, nanos = event["timestamp"]
            timestamp = EPOCH + datetime.timedelta(seconds=seconds, microseconds=nanos // 1000)
        file_bytes = None
        if "file_hex" in event:
            file_bytes = bytes.fromhex(event["file_hex"])
        out.status(
            test_id=event.get("test_id"),
            test_status=event["status"],
            test_tags=event.get("tags"),
            runnable=event["runnable"],
            file_name=event.get("file_name"),
            file_bytes=file_bytes,
            eof=event["eof"],
            mime_type=event.get("mime"),
            route_code=event.get("route_code"),
            timestamp=timestamp,
        )
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
