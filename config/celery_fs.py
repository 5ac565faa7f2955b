"""The demo's embedded Celery broker: kombu's filesystem transport, with each message written
under a temporary name and renamed into the queue folder once it is complete.

kombu (5.7) creates a message file under its final name and writes into it afterwards; a worker
listing the folder at that instant took the still empty file and stopped on the JSON error,
ending ``make run`` after some minutes of beat traffic. ``os.replace`` is atomic on one file
system, and the reader only takes names ending in ``.<queue>.msg``, which the temporary ones do
not. Production uses Redis (``CELERY_BROKER_URL``) and never loads this.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f"{name}.part")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
