"""A readable name for a session's browser ("Chrome on Linux") from its User-Agent.

Parsing is ua-parser's (the maintained Python port of the uap-core rules);
this module only words the answer.
"""

from __future__ import annotations

from functools import lru_cache

import ua_parser

_OS_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
_BROWSER_NAMES = {"HeadlessChrome": "Chrome (headless)", "Chrome Mobile": "Chrome", "Mobile Safari": "Safari",
                  "Firefox Mobile": "Firefox"}


@lru_cache(maxsize=512)
def describe(user_agent: str) -> str:
    if not user_agent.strip():
        return "Unknown browser"
    result = ua_parser.parse(user_agent[:300])
    browser = result.user_agent.family if result.user_agent and result.user_agent.family != "Other" else ""
    system = result.os.family if result.os and result.os.family != "Other" else ""
    browser = _BROWSER_NAMES.get(browser, browser)
    system = _OS_NAMES.get(system, system)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or f"A browser on {system}"
    # Not a browser we know (a script, a bot): its first word, kept short.
    first = user_agent.split()[0].split("/")[0][:40]
    return first or "Unknown browser"
