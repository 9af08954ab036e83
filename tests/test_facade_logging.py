"""gen_logger and the bridge from Twisted's logger to stdlib logging (no sockets)."""

from __future__ import annotations

import logging

import pytest
from twisted.logger import Logger

from ssdp_upnp.ssdp import Client, Server, gen_logger


def test_gen_logger_is_a_stdlib_logger_with_one_handler() -> None:
    logger = gen_logger("sample-test", "INFO")
    assert isinstance(logger, logging.Logger) and logger.level == logging.INFO
    gen_logger("sample-test")
    assert len(logger.handlers) == 1
    text = logger.handlers[0].format(
        logging.LogRecord("sample-test", logging.WARNING, __file__, 1, "hello %s", ("x",), None)
    )
    assert "WARNING" in text and "sample-test: hello x" in text


def test_library_events_reach_stdlib_logging(caplog: pytest.LogCaptureFixture) -> None:
    gen_logger("sample-test")
    with caplog.at_level(logging.INFO, logger="ssdp_upnp"):
        Logger(namespace="ssdp_upnp.test.Thing").info("peer {uuid} at {host}", uuid="u", host="h")
        Logger(namespace="other.library").info("not ours")
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("ssdp_upnp.test.Thing", "peer u at h")
    ]


def test_bad_arguments_fail_at_once_without_starting_anything() -> None:
    from ssdp_upnp.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        Server(0, "blockchain", "main")
    with pytest.raises(ConfigurationError):
        Server(8048, "block chain", "main")
    with pytest.raises(ConfigurationError):
        Client("blockchain", "main net")
    Client("blockchain", "main").stop()  # stop before start: nothing to do
