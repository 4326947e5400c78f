"""Local AWS emulator for Container Manager's tests and demo.

It is moto's own server application, served in-process on 127.0.0.1, wrapped in
one WSGI middleware that bridges moto's two known gaps and lets tests look inside:

1. CloudWatch over Smithy RPCv2-CBOR. The current aws-sdk-cloudwatch sends
   ``POST /service/GraniteServiceVersion20100801/operation/<Op>`` with a CBOR body
   and the header ``smithy-protocol: rpc-v2-cbor``. moto speaks CloudWatch's JSON
   protocol, so the request is re-encoded as JSON (``X-Amz-Target:
   GraniteServiceVersion20100801.<Op>``) and moto's JSON answer is re-encoded as
   CBOR. Timestamps travel as CBOR tag 1 (epoch seconds) and as JSON numbers.
2. Auto Scaling ``CompleteLifecycleAction``, which moto does not implement. The
   emulator keeps the lifecycle actions that are waiting (a test or the demo
   registers one with ``POST /_cm/lifecycle-actions`` when it plays a terminate
   lifecycle event) and completes them as AWS does: by token or by instance id,
   checked against the group and hook that exist in moto; anything else is the
   ``ValidationError`` AWS returns ("No active Lifecycle Action found ...").

Harness endpoints (JSON):
- ``GET /_cm/calls``: how many calls each ``service:Operation`` received.
- ``GET /_cm/lifecycle-actions``: ``{"pending": [...], "completed": [...]}``.
- ``POST /_cm/lifecycle-actions``: register a waiting lifecycle action.
- ``GET /_cm/sns-messages?region=R``: every message published to an SNS topic of
  region R (default us-east-1): ``[{"TopicArn", "MessageId", "Subject", "Message",
  "MessageAttributes"}]``, in publish order per topic.
- ``POST /_cm/faults``: inject faults, ``{"operation": "autoscaling:UpdateAutoScalingGroup"
  (or "*"), "kind": "throttle" | "unavailable", "count": N}``: the next N matching
  calls are answered, in the service's own protocol, with the error AWS gives when it
  throttles (400 ``Throttling``; ``ThrottlingException`` for JSON services,
  ``RequestLimitExceeded`` for EC2) or is unavailable (503 ``ServiceUnavailable``),
  without reaching moto. Faulted calls are counted like the others.
  ``GET /_cm/faults`` lists what is left; ``DELETE /_cm/faults`` clears them.
- ``POST /_cm/reset``: forget counts, faults and lifecycle actions (moto's own state
  is reset with moto's ``POST /moto-api/reset``).

Run: ``python cm_emulator.py [--port 0]``. It prints ``CM_EMULATOR_READY <port>``
on stdout once it listens, and exits when its standard input closes (so a test
process that dies never leaves an emulator behind) or on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import io
import json
import signal
import sys
import threading
import uuid
from collections import Counter
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

import cbor2

CLOUDWATCH_SERVICE = "GraniteServiceVersion20100801"
RPCV2_PREFIX = f"/service/{CLOUDWATCH_SERVICE}/operation/"
AUTOSCALING_XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
DEFAULT_ACCOUNT_ID = "123456789012"

# CloudWatch output members whose type is a timestamp (or a list of them). In JSON
# they are plain numbers; in CBOR they must carry tag 1.
TIMESTAMP_MEMBERS = frozenset(
    {
        "Timestamp",
        "Timestamps",
        "StateUpdatedTimestamp",
        "StateTransitionedTimestamp",
        "AlarmConfigurationUpdatedTimestamp",
        "LastModified",
        "LastUpdateDate",
        "CreationDate",
        "StartTime",
        "EndTime",
    }
)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


# ---------------------------------------------------------------------------
# Pure translation helpers (unit-tested in test_cm_emulator.py)
# ---------------------------------------------------------------------------


def cbor_to_json(value: Any) -> Any:
    """Turn a decoded CBOR value into what CloudWatch's JSON protocol expects."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, cbor2.CBORTag):
        if value.tag == 1:
            return float(value.value)
        raise ValueError(f"unsupported CBOR tag {value.tag}")
    if isinstance(value, dict):
        return {str(k): cbor_to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cbor_to_json(v) for v in value]
    return value


def _to_datetime(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    return value


def json_to_cbor_value(value: Any, key: str | None = None) -> Any:
    """Turn a JSON-protocol CloudWatch value into what RPCv2-CBOR expects."""
    if isinstance(value, dict):
        return {k: json_to_cbor_value(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [json_to_cbor_value(v, key) for v in value]
    if key in TIMESTAMP_MEMBERS:
        return _to_datetime(value)
    return value


def encode_cbor(value: Any) -> bytes:
    return cbor2.dumps(json_to_cbor_value(value), datetime_as_timestamp=True)


def json_error_to_cbor(status: int, body: bytes) -> bytes:
    """moto's JSON error (or an HTML 500 page) as an RPCv2-CBOR error body."""
    code, message = "InternalFailure", body.decode("utf-8", "replace")[:500]
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        code = str(doc.get("__type") or doc.get("code") or doc.get("Code") or code)
        code = code.rsplit("#", 1)[-1]
        message = str(doc.get("message") or doc.get("Message") or "")
    elif status < 500:
        code = "ValidationError"
    return cbor2.dumps({"__type": f"com.amazonaws.cloudwatch#{code}", "message": message})


def signing_scope(environ: Environ) -> tuple[str | None, str | None]:
    """(service, region) from a SigV4 Authorization header, if any."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0]
        _, _, region, service, _ = credential.split("/")
        return service, region
    except (IndexError, ValueError):
        return None, None


def operation_name(environ: Environ, body: bytes) -> str:
    """Best-effort ``service:Operation`` for call counting."""
    service, _ = signing_scope(environ)
    service = service or "unknown"
    path = environ.get("PATH_INFO", "")
    if path.startswith(RPCV2_PREFIX):
        return f"{service}:{path[len(RPCV2_PREFIX):]}"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "") and body:
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return f"{service}:{action[0]}"
    return f"{service}:{environ.get('REQUEST_METHOD', 'GET')} {path}"


# ---------------------------------------------------------------------------
# Lifecycle actions (the CompleteLifecycleAction bridge)
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Fault injection
# ---------------------------------------------------------------------------

FAULT_KINDS = ("throttle", "unavailable")


def fault_response(kind: str, protocol: str, service: str) -> tuple[int, bytes, str]:
    """(status, body, content type) of the error AWS answers when it throttles or is
    unavailable, in the wire protocol the client speaks."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}: expected one of {FAULT_KINDS}")
    status = 400 if kind == "throttle" else 503
    message = "Rate exceeded" if kind == "throttle" else "Service unavailable (injected)"
    request_id = str(uuid.uuid4())
    if protocol == "cbor":
        code = "Throttling" if kind == "throttle" else "ServiceUnavailable"
        body = cbor2.dumps({"__type": f"com.amazonaws.cloudwatch#{code}", "message": message})
        return status, body, "application/cbor"
    if protocol == "json":
        code = "ThrottlingException" if kind == "throttle" else "ServiceUnavailableException"
        return status, json.dumps({"__type": code, "message": message}).encode(), "application/x-amz-json-1.1"
    if service == "ec2":
        code = "RequestLimitExceeded" if kind == "throttle" else "Unavailable"
        xml = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
               f"</Errors><RequestID>{request_id}</RequestID></Response>")
        return status, xml.encode(), "text/xml"
    code = "Throttling" if kind == "throttle" else "ServiceUnavailable"
    kind_of = "Sender" if kind == "throttle" else "Receiver"
    xml = (f"<ErrorResponse><Error><Type>{kind_of}</Type><Code>{code}</Code><Message>{message}</Message>"
           f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return status, xml.encode(), "text/xml"


def wire_protocol(environ: Environ) -> str:
    """``cbor`` (CloudWatch RPCv2), ``json`` (X-Amz-Target), or ``xml`` (query, REST-XML)."""
    if environ.get("PATH_INFO", "").startswith(RPCV2_PREFIX):
        return "cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    return "xml"


class Faults:
    """Faults waiting to be served: operation (or ``*``) -> [kind, calls left]."""

    def __init__(self) -> None:
        self._faults: list[list[Any]] = []
        self._lock = threading.Lock()

    def add(self, doc: dict[str, Any]) -> dict[str, Any]:
        operation, kind, count = doc.get("operation"), doc.get("kind"), doc.get("count", 1)
        if not isinstance(operation, str) or not operation:
            raise ValueError("operation must be 'service:Operation' or '*'")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be a positive integer")
        with self._lock:
            self._faults.append([operation, kind, count])
        return {"operation": operation, "kind": kind, "count": count}

    def take(self, operation: str) -> str | None:
        """The fault kind for this call, if one is waiting (and count it served)."""
        with self._lock:
            for fault in self._faults:
                if fault[2] > 0 and fault[0] in (operation, "*"):
                    fault[2] -= 1
                    return str(fault[1])
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"operation": o, "kind": k, "left": n} for o, k, n in self._faults if n > 0]


class LifecycleActionError(Exception):
    """An answer AWS would give as a 400 ValidationError."""


class LifecycleActions:
    def __init__(self, hook_lookup: Callable[[str, str, str], bool]):
        # hook_lookup(region, group, hook) -> does the hook exist in moto?
        self._hook_lookup = hook_lookup
        self._lock = threading.Lock()
        self.pending: list[dict[str, str]] = []
        self.completed: list[dict[str, str]] = []

    def register(self, region: str, action: dict[str, Any]) -> dict[str, str]:
        required = ("AutoScalingGroupName", "LifecycleHookName", "InstanceId")
        missing = [k for k in required if not action.get(k)]
        if missing:
            raise LifecycleActionError(f"missing {', '.join(missing)}")
        group, hook = action["AutoScalingGroupName"], action["LifecycleHookName"]
        if not self._hook_lookup(region, group, hook):
            raise LifecycleActionError(
                f"No lifecycle hook {hook} on Auto Scaling group {group} in {region}"
            )
        record = {
            "Region": region,
            "AutoScalingGroupName": group,
            "LifecycleHookName": hook,
            "InstanceId": action["InstanceId"],
            "LifecycleActionToken": action.get("LifecycleActionToken") or str(uuid.uuid4()),
        }
        with self._lock:
            self.pending.append(record)
        return record

    def complete(self, region: str, params: dict[str, str]) -> dict[str, str]:
        group = params.get("AutoScalingGroupName", "")
        hook = params.get("LifecycleHookName", "")
        result = params.get("LifecycleActionResult", "")
        token = params.get("LifecycleActionToken")
        instance = params.get("InstanceId")
        if not group or not hook:
            raise LifecycleActionError("AutoScalingGroupName and LifecycleHookName are required")
        if result not in ("CONTINUE", "ABANDON"):
            raise LifecycleActionError(f"LifecycleActionResult must be CONTINUE or ABANDON, got {result!r}")
        if not token and not instance:
            raise LifecycleActionError("LifecycleActionToken or InstanceId is required")
        with self._lock:
            for i, pending in enumerate(self.pending):
                if (
                    pending["Region"] == region
                    and pending["AutoScalingGroupName"] == group
                    and pending["LifecycleHookName"] == hook
                    and (not token or pending["LifecycleActionToken"] == token)
                    and (not instance or pending["InstanceId"] == instance)
                ):
                    done = dict(self.pending.pop(i), LifecycleActionResult=result)
                    self.completed.append(done)
                    return done
        found_by = f"token {token}" if token else f"instance ID {instance}"
        raise LifecycleActionError(f"No active Lifecycle Action found with {found_by}")

    def reset(self) -> None:
        with self._lock:
            self.pending.clear()
            self.completed.clear()

    def snapshot(self) -> dict[str, list[dict[str, str]]]:
        with self._lock:
            return {"pending": list(self.pending), "completed": list(self.completed)}


def moto_sns_messages(region: str) -> list[dict[str, Any]]:
    from moto.sns.models import sns_backends

    backend = sns_backends[DEFAULT_ACCOUNT_ID][region]
    messages = []
    for arn, topic in backend.topics.items():
        for message_id, message, subject, attributes, _group in topic.sent_notifications:
            # moto keeps attributes as {"Type", "Value"}; answer in the SNS API's shape.
            attrs = {name: {"DataType": a.get("Type"), "StringValue": a.get("Value")}
                     for name, a in (attributes or {}).items()}
            messages.append({"TopicArn": arn, "MessageId": message_id, "Subject": subject,
                             "Message": message, "MessageAttributes": attrs})
    return messages


def moto_hook_exists(region: str, group: str, hook: str) -> bool:
    from moto.autoscaling.models import autoscaling_backends

    backend = autoscaling_backends[DEFAULT_ACCOUNT_ID][region]
    return group in backend.autoscaling_groups and f"{group}_{hook}" in backend.lifecycle_hooks


# ---------------------------------------------------------------------------
# The middleware
# ---------------------------------------------------------------------------


def _read_body(environ: Environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _respond(start_response: StartResponse, status: int, body: bytes, content_type: str,
             extra: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error",
              503: "Service Unavailable"}
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
    start_response(f"{status} {reason.get(status, 'Status')}", headers)
    return [body]


def _json(start_response: StartResponse, status: int, doc: Any) -> list[bytes]:
    return _respond(start_response, status, json.dumps(doc).encode(), "application/json")


class Bridge:
    """WSGI middleware: RPCv2-CBOR for CloudWatch, CompleteLifecycleAction, counts."""

    def __init__(self, app: Callable[[Environ, StartResponse], Iterable[bytes]],
                 lifecycle: LifecycleActions):
        self.app = app
        self.lifecycle = lifecycle
        self.calls: Counter[str] = Counter()
        self.faults = Faults()
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        body = _read_body(environ)
        if path.startswith("/_cm/"):
            return self._harness(environ, start_response, path, body)
        if not path.startswith("/moto-api"):
            operation = operation_name(environ, body)
            with self._lock:
                self.calls[operation] += 1
            fault = self.faults.take(operation)
            if fault:
                service, _ = signing_scope(environ)
                protocol = wire_protocol(environ)
                status, error, content_type = fault_response(fault, protocol, service or "")
                extra = [("smithy-protocol", "rpc-v2-cbor")] if protocol == "cbor" else []
                if service == "monitoring" and protocol != "xml":
                    # CloudWatch is awsQueryCompatible: the query-era code and fault
                    # travel in this header, which the SDKs read first.
                    code = "Throttling;Sender" if fault == "throttle" else "ServiceUnavailable;Receiver"
                    extra.append(("x-amzn-query-error", code))
                return _respond(start_response, status, error, content_type, extra)
        if path.startswith(RPCV2_PREFIX):
            return self._cloudwatch_cbor(environ, start_response, path, body)
        service, region = signing_scope(environ)
        if service == "autoscaling" and body:
            params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            if params.get("Action") == "CompleteLifecycleAction":
                return self._complete_lifecycle_action(start_response, region or "us-east-1", params)
        return self.app(environ, start_response)

    # -- bridge 1: CloudWatch RPCv2-CBOR -> JSON -> RPCv2-CBOR -------------------
    def _cloudwatch_cbor(self, environ: Environ, start_response: StartResponse, path: str,
                         body: bytes) -> list[bytes]:
        operation = path[len(RPCV2_PREFIX):]
        cbor_headers = [("smithy-protocol", "rpc-v2-cbor")]
        try:
            request = cbor_to_json(cbor2.loads(body)) if body else {}
        except (cbor2.CBORDecodeError, ValueError) as err:
            error = cbor2.dumps({"__type": "com.amazonaws.cloudwatch#SerializationException",
                                 "message": f"request body is not valid CBOR: {err}"})
            return _respond(start_response, 400, error, "application/cbor", cbor_headers)
        json_body = json.dumps(request).encode()
        inner = dict(environ)
        inner.update(
            {
                "PATH_INFO": "/",
                "RAW_URI": "/",
                "REQUEST_URI": "/",
                "QUERY_STRING": "",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "CONTENT_LENGTH": str(len(json_body)),
                "HTTP_X_AMZ_TARGET": f"{CLOUDWATCH_SERVICE}.{operation}",
                "wsgi.input": io.BytesIO(json_body),
            }
        )
        inner.pop("HTTP_SMITHY_PROTOCOL", None)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"] = int(status.split()[0])
            return lambda _data: None

        chunks = self.app(inner, capture)
        try:
            raw = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        status = captured.get("status", 500)
        if status >= 400:
            return _respond(start_response, status, json_error_to_cbor(status, raw),
                            "application/cbor", cbor_headers)
        document = json.loads(raw) if raw.strip() else {}
        return _respond(start_response, status, encode_cbor(document), "application/cbor", cbor_headers)

    # -- bridge 2: CompleteLifecycleAction ------------------------------------
    def _complete_lifecycle_action(self, start_response: StartResponse, region: str,
                                   params: dict[str, str]) -> list[bytes]:
        request_id = str(uuid.uuid4())
        try:
            self.lifecycle.complete(region, params)
        except LifecycleActionError as err:
            xml = (
                f'<ErrorResponse xmlns="{AUTOSCALING_XMLNS}"><Error><Type>Sender</Type>'
                f"<Code>ValidationError</Code><Message>{_xml_escape(str(err))}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            )
            return _respond(start_response, 400, xml.encode(), "text/xml")
        xml = (
            f'<CompleteLifecycleActionResponse xmlns="{AUTOSCALING_XMLNS}">'
            "<CompleteLifecycleActionResult/>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            "</CompleteLifecycleActionResponse>"
        )
        return _respond(start_response, 200, xml.encode(), "text/xml")

    # -- harness endpoints ---------------------------------------------------------
    def _harness(self, environ: Environ, start_response: StartResponse, path: str,
                 body: bytes) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/_cm/calls" and method == "GET":
            with self._lock:
                return _json(start_response, 200, dict(self.calls))
        if path == "/_cm/lifecycle-actions" and method == "GET":
            return _json(start_response, 200, self.lifecycle.snapshot())
        if path == "/_cm/lifecycle-actions" and method == "POST":
            try:
                doc = json.loads(body or b"{}")
                region = str(doc.pop("Region", "us-east-1"))
                return _json(start_response, 200, self.lifecycle.register(region, doc))
            except (ValueError, LifecycleActionError) as err:
                return _json(start_response, 400, {"error": str(err)})
        if path == "/_cm/sns-messages" and method == "GET":
            region = parse_qs(environ.get("QUERY_STRING", "")).get("region", ["us-east-1"])[0]
            return _json(start_response, 200, moto_sns_messages(region))
        if path == "/_cm/faults" and method == "POST":
            try:
                return _json(start_response, 200, self.faults.add(json.loads(body or b"{}")))
            except ValueError as err:
                return _json(start_response, 400, {"error": str(err)})
        if path == "/_cm/faults" and method == "GET":
            return _json(start_response, 200, self.faults.snapshot())
        if path == "/_cm/faults" and method == "DELETE":
            self.faults.clear()
            return _json(start_response, 200, {"cleared": True})
        if path == "/_cm/reset" and method == "POST":
            with self._lock:
                self.calls.clear()
            self.faults.clear()
            self.lifecycle.reset()
            return _json(start_response, 200, {"reset": True})
        return _json(start_response, 404, {"error": f"no harness endpoint {method} {path}"})


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_app() -> Bridge:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return Bridge(DomainDispatcherApplication(create_backend_app), LifecycleActions(moto_hook_exists))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-stdin-watch", action="store_true",
                        help="keep running when standard input closes")
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *a: Any, **k: Any) -> None:  # one line per call is noise in tests
            pass

    server = make_server(args.host, args.port, build_app(), threaded=True, request_handler=QuietHandler)
    stop = threading.Event()

    def shutdown(*_: Any) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    if not args.no_stdin_watch:
        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            shutdown()

        threading.Thread(target=watch_stdin, daemon=True).start()

    print(f"CM_EMULATOR_READY {server.server_port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
