"""A minimal Lambda Runtime API client for the Python baseline (benchmarks only).

It does what a Python runtime does for a handler: import the handler module (its
clients are created then), then loop on GET /invocation/next, call the handler, and
POST its result to /response (or the exception to /error). It imports less than the
real runtime interface client, so it can only flatter the baseline.
"""

import json
import os
import sys
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"

try:
    import trigger
except Exception as err:  # noqa: BLE001 - reported to the runtime like Lambda does
    body = json.dumps({"errorMessage": str(err), "errorType": type(err).__name__}).encode()
    urllib.request.urlopen(urllib.request.Request(API + "/init/error", body, method="POST"))
    raise


def post(path, payload):
    request = urllib.request.Request(
        API + path, json.dumps(payload).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    urllib.request.urlopen(request).read()


while True:
    with urllib.request.urlopen(API + "/invocation/next") as answer:
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(answer.read())
    try:
        result = trigger.handler(event, None)
    except Exception as err:  # noqa: BLE001 - reported to the runtime like Lambda does
        post(f"/invocation/{request_id}/error", {
            "errorMessage": str(err),
            "errorType": type(err).__name__,
            "stackTrace": traceback.format_exc().splitlines(),
        })
    else:
        post(f"/invocation/{request_id}/response", result)
