import re

from accounts import sms


def code_from_outbox(phone: str) -> str:
    """The 6-digit code of the last SMS sent to ``phone``."""
    messages = [m for m in sms.outbox if m.phone == phone]
    assert messages, f"no SMS sent to {phone}"
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", messages[-1].text)
    assert match, messages[-1].text
    return match.group(1)
