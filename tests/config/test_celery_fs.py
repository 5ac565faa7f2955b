"""The demo's filesystem broker writes each message whole before a worker can see it."""

from __future__ import annotations

import os

from kombu import Connection

import config.celery_fs as celery_fs


def _connection(folder):
    return Connection("filesystem://", transport="config.celery_fs:Transport", transport_options={
        "data_folder_in": str(folder), "data_folder_out": str(folder), "processed_folder": str(folder),
        "control_folder": str(folder), "store_processed": False,
    })


def test_a_message_goes_through_and_no_partial_file_is_ever_named_like_one(tmp_path, monkeypatch):
    seen_while_writing = []
    real_replace = os.replace

    def replace(src, dst):  # at this point the content is written, under the temporary name
        seen_while_writing.append(sorted(os.listdir(tmp_path)))
        real_replace(src, dst)

    monkeypatch.setattr(celery_fs.os, "replace", replace)
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("demo")
        queue.put({"hello": "world"})
        assert seen_while_writing and any(name.endswith(".demo.msg.part") for name in seen_while_writing[0])
        assert not [name for name in seen_while_writing[0] if name.endswith(".msg")]  # nothing a worker takes
        message = queue.get(timeout=1)
        assert message.payload == {"hello": "world"}
        message.ack()
        queue.close()
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".part")]


def test_the_demo_settings_use_it(settings):
    from config.settings import base

    if base.CELERY_BROKER_URL == "filesystem://":  # no CELERY_BROKER_URL in the environment
        assert base.CELERY_BROKER_TRANSPORT == "config.celery_fs:Transport"
    assert settings.CELERY_BROKER_TRANSPORT is None  # the tests keep the in-memory broker
