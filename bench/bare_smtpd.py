#!/usr/bin/env python3
"""A bare aiosmtpd server that accepts everything and discards it: the stack's own limit,
measured beside the gateway in bench/smtp_intake.py. Usage: bare_smtpd.py PORT"""

import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Discard:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


if __name__ == "__main__":
    controller = Controller(Discard(), hostname="127.0.0.1", port=int(sys.argv[1]), decode_data=False)
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    controller.stop()
