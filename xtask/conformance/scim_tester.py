#!/usr/bin/env python3
"""Runs scim2-tester's check_server against a SCIM base URL and prints one line per result.

Usage: scim_tester.py BASE_URL TOKEN
Exit code 0 when no check ended in ERROR or CRITICAL, 1 otherwise. The last line is
"N passed, N failed, N skipped".
"""

import collections
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

BAD = {Status.ERROR, Status.CRITICAL}


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    http = Client(
        base_url=base_url.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http, check_response_status_codes=True, check_response_content_type=True)
    results = check_server(client)
    for result in results:
        kind = f" [{result.resource_type}]" if result.resource_type else ""
        print(f"{result.status.name:10} {result.title}{kind}")
        if result.reason and result.status != Status.SUCCESS:
            print(f"           {result.reason}")
        if result.status in BAD and result.data is not None:
            print(f"           data: {str(result.data)[:1500]}")
    counts = collections.Counter(r.status for r in results)
    failed = sum(counts[s] for s in BAD)
    print(f"{counts[Status.SUCCESS]} passed, {failed} failed, {counts[Status.SKIPPED]} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
