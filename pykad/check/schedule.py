"""keepalived's checker timing and up/down logic, as sans-IO state machines.

Owns what keepalived 2.2.7 decides after each attempt of a checker: when the
next attempt runs (``delay_loop``, ``delay_before_retry``, ``retry``), when the
checker goes up or down, and the log lines it writes on the way.  No clock and
no I/O: the caller says "the attempt finished at ``now_us``" and receives
effects (:class:`Log`, :class:`StateUpdate`, :class:`NextAttempt`).

The semantics follow the C:

* start (check_api.c ``register_checkers_thread``): the first attempt runs at
  ``BOOTSTRAP_DELAY`` (1 s) + ``warmup * random()/RAND_MAX``; the random
  fraction is an input.
* initial state (check_data.c ``validate_check_config``): a checker starts up,
  or down with ``alpha``; ``retry_it = retry``, so the first failure is final
  ("for non alpha mode, one failure is enough initially").
* :class:`Layer4Schedule`: ``tcp_epilog`` (check_tcp.c) and, with
  ``retry_while_down=False``, ``udp_epilog``/``icmp_epilog`` (check_udp.c,
  check_ping.c), which stop retrying once the checker is down.
* :class:`HttpSchedule`: check_http.c ``epilog``/``timeout_epilog``: one URL per
  attempt, ``delay_loop`` between URLs, retries of the failing URL, the failed
  URL alone while down, ``fast_recovery``.
* :class:`StateUpdate` is emitted wherever keepalived calls
  ``update_svr_checker_state`` (the real server's bookkeeping is the caller's).

Times are integer microseconds, as keepalived keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pykad.config.sections._lvs_model import Checker, Url

__all__ = [
    "BOOTSTRAP_DELAY_US",
    "MISC_NOTE",
    "TCP",
    "DnsSchedule",
    "Effect",
    "HttpSchedule",
    "Layer4Kind",
    "Layer4Schedule",
    "Log",
    "MiscSchedule",
    "NextAttempt",
    "Schedule",
    "SmtpSchedule",
    "StateUpdate",
    "Timing",
    "first_attempt_at",
]

BOOTSTRAP_DELAY_US = 1_000_000
"""lib/scheduler.h ``BOOTSTRAP_DELAY`` (TIMER_HZ): before any checker's first attempt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """The timing options of one checker (defaults already applied by the config)."""

    retry: int = 1
    delay_loop_us: int = 60_000_000
    warmup_us: int = 60_000_000
    delay_before_retry_us: int = 1_000_000
    alpha: bool = False
    log_all_failures: bool = False
    """The checker's own option or the global ``checker_log_all_failures``."""

    @classmethod
    def of(cls, check: Checker, *, log_all_failures: bool = False) -> Timing:
        """The timing of a checker model; ``log_all_failures`` adds the global option."""
        return cls(
            retry=check.retry,
            delay_loop_us=check.delay_loop_us,
            warmup_us=check.warmup_us,
            delay_before_retry_us=check.delay_before_retry_us,
            alpha=check.alpha,
            log_all_failures=check.log_all_failures or log_all_failures,
        )


@dataclass(frozen=True, slots=True)
class Log:
    """A line keepalived logs at LOG_INFO."""

    message: str


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """keepalived's ``update_svr_checker_state(up, checker)``.

    ``changed`` is False when the state is confirmed (the first verdict agrees
    with the initial state: keepalived then only runs the real server's
    notifies when ``alpha`` or down).
    """

    up: bool
    changed: bool
    first: bool
    """The checker had not run before (``has_run`` was false)."""


@dataclass(frozen=True, slots=True)
class NextAttempt:
    """Run the next attempt at ``at_us``; HTTP: for URL number ``url_index``."""

    at_us: int
    url_index: int | None = None


Effect = Log | StateUpdate | NextAttempt


def first_attempt_at(timing: Timing, now_us: int, random_fraction: float) -> int:
    """When the first attempt runs: 1 s + warmup scaled by ``random_fraction`` in [0, 1]."""
    warmup = int(timing.warmup_us * random_fraction) if timing.warmup_us else 0
    return now_us + BOOTSTRAP_DELAY_US + warmup


@dataclass(frozen=True, slots=True)
class Layer4Kind:
    """The texts and retry rule of one single-attempt checker type."""

    success: str
    """``{chk}``: the real server as ``[addr]:proto:port``."""
    failed: str
    failed_after: str
    """``{retry}``: the retry count; ``{vs}``: the virtual server."""
    attempt_failed: str
    """A failed attempt while up, with log_all_failures; ``{reason}``: the probe's reason."""
    retry_while_down: bool = True
    """TCP retries (delay_before_retry) while down too; UDP and ICMP do not (their kinds
    are ``pykad.check.probes.udp.KIND`` and ``pykad.check.probes.ping.KIND``)."""


TCP = Layer4Kind(
    success="TCP connection to {chk} success.",
    failed="TCP_CHECK on service {chk} failed.",
    failed_after="TCP_CHECK on service {chk} failed after {retry} retries.",
    attempt_failed="TCP connection to {chk} {reason}.",
)


@dataclass(slots=True)
class _State:
    is_up: bool
    has_run: bool = False
    retry_it: int = 0


@dataclass(slots=True)
class _Base:
    timing: Timing
    chk: str
    """keepalived's ``FMT_CHK``: ``[192.0.2.1]:tcp:80``."""
    vs: str = ""
    """keepalived's ``FMT_VS``, for the texts that name the virtual server."""
    state: _State = field(init=False)

    def __post_init__(self) -> None:
        # validate_check_config: alpha starts down; the first failure is final.
        self.state = _State(is_up=not self.timing.alpha, retry_it=self.timing.retry)

    @property
    def is_up(self) -> bool:
        return self.state.is_up

    @property
    def has_run(self) -> bool:
        return self.state.has_run

    @property
    def retry_it(self) -> int:
        return self.state.retry_it

    def _update(self, up: bool) -> StateUpdate:
        """ipwrapper.c ``update_svr_checker_state``."""
        st = self.state
        effect = StateUpdate(up=up, changed=st.is_up != up, first=not st.has_run)
        st.has_run = True
        st.is_up = up
        return effect

    @property
    def quiet_success(self) -> bool:
        """A success now would change nothing and log nothing: its only effect would be
        the next attempt ``delay_loop`` later (a bulk runner may absorb it).  Only the
        checkers the bulk runner takes say when."""
        return False

    def setup_error(self, now_us: int, message: str) -> list[Effect]:
        """A local error (socket, bind): log it, try again after delay_loop, no verdict."""
        return [Log(message), NextAttempt(now_us + self.timing.delay_loop_us, self._index())]

    def _index(self) -> int | None:
        return None


@dataclass(slots=True)
class Layer4Schedule(_Base):
    """TCP_CHECK's ``tcp_epilog`` (or UDP_CHECK/PING_CHECK's with their kind)."""

    kind: Layer4Kind = TCP

    def start(self, now_us: int, random_fraction: float) -> list[Effect]:
        """The first attempt, after the bootstrap delay and a random part of warmup."""
        return [NextAttempt(first_attempt_at(self.timing, now_us, random_fraction))]

    @property
    def quiet_success(self) -> bool:
        """See :attr:`_Base.quiet_success`: up, run, no retry pending."""
        st = self.state
        return st.is_up and st.has_run and st.retry_it == 0

    def attempt_done(self, now_us: int, ok: bool, reason: str = "failed") -> list[Effect]:
        """One attempt finished at ``now_us``: its effects, ending with the next attempt."""
        t, st, k = self.timing, self.state, self.kind
        effects: list[Effect] = []
        if not ok and st.is_up and t.log_all_failures:
            effects.append(Log(k.attempt_failed.format(chk=self.chk, reason=reason)))
        if k.retry_while_down:
            final = ok or st.retry_it >= t.retry
            retrying = not final
        else:
            final = ok or ((st.is_up or not st.has_run) and st.retry_it >= t.retry)
            retrying = not final and st.is_up
        delay = t.delay_loop_us
        if final:
            st.retry_it = 0
            if ok and (not st.is_up or not st.has_run):
                effects.append(Log(k.success.format(chk=self.chk)))
                effects.append(self._update(True))
            elif not ok and (st.is_up or not st.has_run):
                if t.retry and st.has_run:
                    text = k.failed_after.format(chk=self.chk, retry=t.retry, vs=self.vs)
                else:
                    text = k.failed.format(chk=self.chk)
                effects.append(Log(text))
                effects.append(self._update(False))
        elif retrying:
            delay = t.delay_before_retry_us
            st.retry_it += 1
        st.has_run = True
        effects.append(NextAttempt(now_us + delay))
        return effects


_NEW, _RETRY, _FAILED = "new", "retry", "failed"


@dataclass(slots=True)
class HttpSchedule(_Base):
    """HTTP_GET/SSL_GET: check_http.c ``epilog`` and ``timeout_epilog``.

    Each attempt fetches one URL (``NextAttempt.url_index``); the checker goes
    up once every URL in turn succeeded, each a ``delay_loop`` after the last.
    """

    urls: tuple[Url, ...] = ()
    fast_recovery: bool = False
    url_it: int | None = field(init=False, default=None)
    failed_url: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        _Base.__post_init__(self)
        self.url_it = 0 if self.urls else None

    def _index(self) -> int | None:
        return self.url_it

    def start(self, now_us: int, random_fraction: float) -> list[Effect]:
        """The first attempt (the first URL), after bootstrap delay and warmup."""
        return [NextAttempt(first_attempt_at(self.timing, now_us, random_fraction), self.url_it)]

    @property
    def quiet_success(self) -> bool:
        """As :attr:`Layer4Schedule.quiet_success`; only with a single URL (with more, a
        success moves on to the next URL)."""
        st = self.state
        return (
            len(self.urls) == 1
            and st.is_up
            and st.has_run
            and st.retry_it == 0
            and self.url_it == 0
            and self.failed_url is None
        )

    def attempt_done(self, now_us: int, ok: bool, reason: str = "") -> list[Effect]:
        """The attempt on URL ``url_it`` finished: ``reason`` is keepalived's debug_msg."""
        st = self.state
        effects: list[Effect] = []
        if ok:
            # http_handle_response
            if not st.is_up and self.url_it is not None:
                url = self.urls[self.url_it]
                msg = (
                    "Regex match"
                    if url.regex
                    else "MD5 digest"
                    if url.digest
                    else "HTTP status code"
                )
                effects.append(Log(f"{msg} success to {self.chk} url({url.path})"))
            return effects + self._epilog(now_us, _NEW)
        # timeout_epilog
        if st.is_up or not st.has_run:
            if self.timing.log_all_failures:
                effects.append(Log(f"{reason} server {self.chk}."))
            st.has_run = True
            return effects + self._epilog(now_us, _RETRY)
        return effects + self._epilog(now_us, _FAILED)

    def _epilog(self, now_us: int, method: str) -> list[Effect]:
        t, st = self.timing, self.state
        effects: list[Effect] = []
        n = len(self.urls)
        if method == _NEW:
            if self.url_it is None or self.url_it + 1 >= n:
                self.url_it = None
            else:
                self.url_it += 1
            st.retry_it = 0
        elif method == _RETRY:
            st.retry_it += 1

        if method == _NEW and self.url_it is None and self.failed_url is None:
            if not st.is_up or not st.has_run:
                effects.append(Log(f"Remote Web server {self.chk} succeed on service."))
                effects.append(self._update(True))
            self.url_it = 0 if n else None
            st.retry_it = 0
        elif method == _RETRY and st.retry_it > t.retry:
            if st.is_up or not st.has_run:
                if st.has_run and t.retry:
                    text = (
                        f"HTTP_CHECK on service {self.chk} failed after {st.retry_it - 1} retries."
                    )
                else:
                    text = f"HTTP_CHECK on service {self.chk} failed."
                effects.append(Log(text))
                effects.append(self._update(False))
            self.failed_url = self.url_it
        elif method == _NEW and self.failed_url is not None:
            # The failed URL is up again: check all the URLs.
            self.failed_url = None
            self.url_it = 0 if n else None
            st.retry_it = 0

        if method == _NEW:
            delay = t.delay_loop_us
            if not st.has_run:
                st.retry_it = t.retry
        elif self.failed_url is not None:
            delay = max(t.delay_before_retry_us, t.delay_loop_us)
        else:
            delay = t.delay_before_retry_us
        if self.fast_recovery and (not st.has_run or (not st.is_up and self.failed_url is None)):
            delay = 0
        effects.append(NextAttempt(now_us + delay, self.url_it))
        return effects


MISC_NOTE = "\x00"
"""Where a MISC_CHECK failure's reason takes the retry note (``misc.log_line``)."""


@dataclass(slots=True)
class MiscSchedule(_Base):
    """MISC_CHECK: check_misc.c ``misc_check_child_thread``.

    Unlike the other checkers, the next run is timed from the *start* of the last
    one (``last_ran``): ``delay_before_retry`` while retrying, else ``delay_loop``
    (at once if that is past).  A failure while down neither logs nor retries.
    The lines are the script's: ``success_line`` when the checker comes up, the
    failure's reason (``misc.log_line`` with :data:`MISC_NOTE` where keepalived
    2.2.7 puts " after N retries") when it goes down, or at every failed retry
    with log_all_failures (keepalived then logs the same note).
    """

    success_line: str = ""
    last_ran_us: int = field(init=False, default=0)

    def start(self, now_us: int, random_fraction: float) -> list[Effect]:
        """The first run, after the bootstrap delay and a random part of warmup."""
        self.last_ran_us = first_attempt_at(self.timing, now_us, random_fraction)
        return [NextAttempt(self.last_ran_us)]

    def attempt_done(self, now_us: int, ok: bool, reason: str = "failed") -> list[Effect]:
        """The run that started at ``last_ran_us`` ended at ``now_us``."""
        t, st = self.timing, self.state
        effects: list[Effect] = []
        note = f" after {t.retry} retries" if t.retry else ""
        if ok:
            if not st.is_up or not st.has_run:
                effects += [Log(self.success_line), self._update(True)]
            st.retry_it = 0
        elif st.is_up or not st.has_run:
            if st.retry_it < t.retry:
                st.retry_it += 1
                if t.log_all_failures:
                    effects.append(Log(reason.replace(MISC_NOTE, note)))
            else:
                st.retry_it = 0
                effects += [Log(reason.replace(MISC_NOTE, note)), self._update(False)]
        st.has_run = True
        delay = t.delay_before_retry_us if st.retry_it else t.delay_loop_us
        self.last_ran_us = max(self.last_ran_us + delay, now_us + 1)
        effects.append(NextAttempt(self.last_ran_us))
        return effects


@dataclass(slots=True)
class SmtpSchedule(_Base):
    """SMTP_CHECK: check_smtp.c ``smtp_final`` and ``smtp_start_check_thread``.

    Every check (the first one too) starts with no retry spent and retries a
    failure ``retry`` times, ``delay_before_retry`` apart, whether the checker is
    up or down; the failure that uses the last retry is logged (the probe's
    reason, "SMTP_CHECK ...", without a retry note) and takes the checker down.
    """

    success_line: str = ""

    def start(self, now_us: int, random_fraction: float) -> list[Effect]:
        """The first check, after the bootstrap delay and a random part of warmup."""
        self.state.retry_it = 0
        return [NextAttempt(first_attempt_at(self.timing, now_us, random_fraction))]

    def attempt_done(self, now_us: int, ok: bool, reason: str = "failed") -> list[Effect]:
        """One attempt ended at ``now_us``; a failure's ``reason`` is the line to log."""
        t, st = self.timing, self.state
        effects: list[Effect] = []
        if ok:
            st.retry_it = 0
            if not st.is_up or not st.has_run:
                effects += [Log(self.success_line), self._update(True)]
            st.has_run = True
            return [*effects, NextAttempt(now_us + t.delay_loop_us)]
        if (st.is_up or not st.has_run) and (t.log_all_failures or st.retry_it >= t.retry):
            effects.append(Log(reason))
        st.retry_it += 1
        if st.retry_it <= t.retry:
            return [*effects, NextAttempt(now_us + t.delay_before_retry_us)]
        if st.is_up or not st.has_run:
            effects.append(self._update(False))
        st.retry_it = 0  # smtp_start_check_thread, at the next delay_loop
        return [*effects, NextAttempt(now_us + t.delay_loop_us)]

    def setup_error(self, now_us: int, message: str) -> list[Effect]:
        """As :meth:`_Base.setup_error`; the next check starts with no retry spent."""
        self.state.retry_it = 0
        return _Base.setup_error(self, now_us, message)


@dataclass(slots=True)
class DnsSchedule(_Base):
    """DNS_CHECK: check_dns.c ``dns_final``.

    The first failure is final (retries count from the start, as for TCP); while
    up, a failure is retried ``retry`` times, ``delay_before_retry`` apart, and the
    last one is logged with " after N retries" (once the checker has run); a
    failure while down is neither logged nor retried; coming up logs nothing.
    """

    def start(self, now_us: int, random_fraction: float) -> list[Effect]:
        """The first check, after the bootstrap delay and a random part of warmup."""
        return [NextAttempt(first_attempt_at(self.timing, now_us, random_fraction))]

    def attempt_done(self, now_us: int, ok: bool, reason: str = "failed") -> list[Effect]:
        """One query ended at ``now_us``; a failure's ``reason`` is the line to log."""
        t, st = self.timing, self.state
        effects: list[Effect] = []
        if not ok and (st.is_up or not st.has_run):
            final = st.retry_it >= t.retry
            if t.log_all_failures or final:
                note = f" after {t.retry} retries" if st.has_run and final else ""
                effects.append(Log(reason + note))
            if not final:
                st.retry_it += 1
                st.has_run = True
                return [*effects, NextAttempt(now_us + t.delay_before_retry_us)]
            effects.append(self._update(False))
        elif ok and (not st.is_up or not st.has_run):
            effects.append(self._update(True))
        st.retry_it = 0
        st.has_run = True
        return [*effects, NextAttempt(now_us + t.delay_loop_us)]


Schedule = Layer4Schedule | HttpSchedule | MiscSchedule | SmtpSchedule | DnsSchedule
