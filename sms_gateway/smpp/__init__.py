"""The SMPP channel: `kontor smpp`, one long-lived transceiver bind to the SMSC (see docs/channels/smpp.md).

codec: text <-> short_message (GSM 7-bit, UCS2, concatenation); link: the bind itself (smpplib);
inbound: deliver_sm -> handle() -> replies queued; outbound: the Redis queue -> submit_sm; process: the loop.
"""
