"""The reference endpoint: the least a Twilio webhook with per-phone state can do, under the same gunicorn.

Verify the signature with twilio's RequestValidator, three Redis round trips on per-phone keys (GET, SET with
EX, DEL), TwiML from MessagingResponse. With BENCH_OUTSIDE_URL set, a message that is a bill ID (13 digits,
the step where Kontor asks the subscriber system: 4 messages in 39 of the bench's conversations, about one in
ten) also GETs that bill's meter from the sandbox through a pooled requests.Session, as Kontor does, so the
floor pays the same outside calls. Kontor's webhook is compared with this (target: >= 0.8x its rate).
"""

from __future__ import annotations

import os
import re

import redis
import requests
from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

app = Flask("reference")
TOKEN = os.environ["BENCH_TWILIO_TOKEN"]
OUTSIDE = os.environ.get("BENCH_OUTSIDE_URL", "")
client = redis.Redis.from_url(
    os.environ["BENCH_REDIS_URL"],
    socket_timeout=5,
    socket_connect_timeout=2,
    health_check_interval=30,
    retry_on_timeout=True,
)
session = requests.Session()
session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
BILL_ID = re.compile(r"[0-9]{13}")


@app.post("/sms/twilio")
def inbound() -> Response:
    if not RequestValidator(TOKEN).validate(request.url, request.form, request.headers.get("X-Twilio-Signature", "")):
        abort(403)
    phone, body = request.form.get("From", ""), request.form.get("Body", "")
    state = client.get(f"ref:{{{phone}}}:s") or b""
    if OUTSIDE and BILL_ID.fullmatch(body):
        answer = session.get(f"{OUTSIDE}/subscriber-system/bills/{body}/meter", timeout=3)
        body += f" ({answer.status_code} {len(answer.json())})"
    client.set(f"ref:{{{phone}}}:s", (body + "|" + state.decode()[:200]), ex=5400)
    client.delete(f"ref:{{{phone}}}:lock")
    reply = MessagingResponse()
    reply.message("پاسخ: " + body)
    return Response(str(reply), mimetype="application/xml")


@app.get("/healthz")
def healthz() -> str:
    client.ping()
    return "ok"
