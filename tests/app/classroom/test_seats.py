"""Seats that belong to someone, rate limits on new seats and sends, and the teacher's gallery
controls, on the real SQLite file and a real redis-server."""

from __future__ import annotations

import pytest

from model.classroom import rules
from model.classroom.rules import ClassError
from model.classroom.store import NotTeacher, Store
from tests.app.classroom.test_store import DIGIT, SECRET, T0
from viz import limits

CODE = "SEA234"
FRESH = rules.SEAT_FRESH_S


def _class(s: Store) -> None:
    assert s.create(CODE, SECRET, T0)


def _seat_class_of(s: Store, n: int, t: float = T0) -> list[str]:
    """``n`` students, each from its own browser and address, all seated at ``t``."""
    seats = [f"{i:016x}" for i in range(n)]
    for i, seat in enumerate(seats):
        s.join(CODE, seat, t, browser=f"b{i}", address=f"10.0.0.{i}")
    return seats


def test_a_seat_counts_only_while_its_page_reports_in(store: Store) -> None:
    _class(store)
    seats = _seat_class_of(store, limits.CLASS_STUDENTS)
    assert store.counts(CODE, T0 + 1) == (60, 60)
    with pytest.raises(ClassError, match="is full"):
        store.join(CODE, "late", T0 + 1, browser="real", address="10.1.1.1")
    for seat in seats[:10]:  # ten pages still open: they report in
        store.seen(CODE, seat, True, T0 + FRESH - 5)
    # The 50 others left: their seats are free within SEAT_FRESH_S.
    assert store.counts(CODE, T0 + FRESH + 1)[0] == 10
    assert store.join(CODE, "real", T0 + FRESH + 1, browser="real", address="10.1.1.1") == 11
    # A page that left comes back: its seat is there while the class has room.
    store.seen(CODE, seats[20], True, T0 + FRESH + 2)
    assert store.counts(CODE, T0 + FRESH + 3)[0] == 12


def test_a_stale_seat_does_not_push_the_class_over_60(store: Store) -> None:
    _class(store)
    seats = _seat_class_of(store, limits.CLASS_STUDENTS)
    t = T0 + FRESH + 1  # all 60 went quiet; 60 others take their places
    others = [f"{i + 100:016x}" for i in range(limits.CLASS_STUDENTS)]
    for i, seat in enumerate(others):
        store.join(CODE, seat, t, browser=f"o{i}", address=f"10.2.0.{i}")
    store.seen(CODE, seats[0], True, t + 1)  # the first comes back: no room
    assert store.counts(CODE, t + 2)[0] == limits.CLASS_STUDENTS
    with pytest.raises(ClassError, match="is full"):
        store.join(CODE, seats[0], t + 2, browser="b0", address="10.0.0.0")
    # (seat records beyond CLASS_SEATS_KEPT: the stalest were dropped, with their digits)
    with pytest.raises(ClassError, match="is full|no seat"):
        store.send(CODE, seats[0], DIGIT, 1, 1, "", t + 3)
    assert len(store.seats(CODE, SECRET, t + 3)) <= limits.CLASS_SEATS_KEPT


@pytest.mark.parametrize(("browsers", "addresses", "allowed"), [
    # one browser asking for new seats over and over: a few, then refused
    (lambda i: "one", lambda i: f"10.0.0.{i}", rules.NEW_SEATS_PER_BROWSER[0]),
    # one address (a school's NAT) with a new browser each time: the burst, then refused
    (lambda i: f"b{i}", lambda i: "10.9.9.9", rules.NEW_SEATS_PER_ADDRESS[0]),
    # nobody known (no cookie, no address): only the seat count limits
    (lambda i: "", lambda i: "", limits.CLASS_STUDENTS),
])
def test_new_seats_are_rate_limited(store: Store, browsers, addresses, allowed: int) -> None:
    _class(store)
    got = 0
    for i in range(limits.CLASS_STUDENTS + 5):
        try:
            store.join(CODE, f"{i:016x}", T0, browser=browsers(i), address=addresses(i))
            got += 1
        except ClassError as exc:
            assert "wait" in str(exc) or "is full" in str(exc), exc
    assert got == allowed


def test_a_class_of_60_behind_one_address_joins_within_a_minute(store: Store) -> None:
    _class(store)
    t, seated = T0, 0
    while seated < limits.CLASS_STUDENTS:  # each student tries once a second until seated
        for i in range(seated, limits.CLASS_STUDENTS):
            try:
                store.join(CODE, f"{i:016x}", t, browser=f"b{i}", address="10.9.9.9")
                seated += 1
            except ClassError:
                break
        for i in range(seated):  # the seated pages report in
            store.seen(CODE, f"{i:016x}", True, t)
        t += 1.0
    assert t - T0 <= 60
    assert store.counts(CODE, t)[0] == limits.CLASS_STUDENTS


def test_a_locked_class_takes_no_new_seat(store: Store) -> None:
    _class(store)
    store.join(CODE, "a" * 16, T0, browser="a", address="1")
    store.options(CODE, SECRET, T0 + 1, locked=True)
    assert store.info(CODE, T0 + 1).locked
    with pytest.raises(ClassError, match="locked"):
        store.join(CODE, "b" * 16, T0 + 2, browser="b", address="2")
    assert store.join(CODE, "a" * 16, T0 + 2, browser="a", address="1") == 1  # a reload
    store.options(CODE, SECRET, T0 + 3, locked=False)
    assert store.join(CODE, "b" * 16, T0 + 4, browser="b", address="2") == 2


def test_the_gallery_keeps_each_seats_newest_digits(store: Store) -> None:
    _class(store)
    a, b = "a" * 16, "b" * 16
    store.join(CODE, a, T0, browser="a")
    store.join(CODE, b, T0, browser="b")
    ids = [store.send(CODE, a, DIGIT, k, k, "", T0 + 3 * k, browser="a") for k in range(5)]
    mine = store.send(CODE, b, DIGIT, 9, 9, "bee", T0 + 1, browser="b")
    shown = store.digits(CODE)
    assert [d.id for d in shown if d.seat == a] == ids[-rules.SHOWN_PER_SEAT:]
    assert [(d.id, d.seat, d.nickname) for d in shown if d.seat == b] == [(mine, b, "bee")]
    seats = {x.seat: x for x in store.seats(CODE, SECRET, T0 + 20)}
    assert (seats[a].digits, seats[b].digits) == (rules.SHOWN_PER_SEAT, 1)
    store.remove_digit(CODE, SECRET, ids[-1], T0 + 21)
    assert [d.id for d in store.digits(CODE)] == [*ids[-3:-1], mine]
    store.remove_seat(CODE, SECRET, a, T0 + 22)  # its digits go with it
    assert [d.id for d in store.digits(CODE)] == [mine]
    assert [x.seat for x in store.seats(CODE, SECRET, T0 + 23)] == [b]
    with pytest.raises(ClassError, match="no seat"):
        store.send(CODE, a, DIGIT, 1, 1, "", T0 + 30, browser="a")


@pytest.mark.parametrize(("who", "browser", "limit", "step"), [
    ("seat", lambda i: f"b{i}", rules.SENDS_PER_SEAT, 2.0),  # one seat, sending every 2 s
    ("browser", lambda i: "one", rules.SENDS_PER_BROWSER, 0.5),  # one browser, many seats
])
def test_sends_are_rate_limited(store: Store, who: str, browser, limit, step: float) -> None:
    _class(store)
    seats = [f"{i:016x}" for i in range(12)]
    for i, seat in enumerate(seats):
        store.join(CODE, seat, T0, browser=f"j{i}", address=f"10.0.0.{i}")
    sent, refused = 0, ""
    for i in range(limit[0] + 3):
        seat = seats[0] if who == "seat" else seats[i]
        try:
            store.send(CODE, seat, DIGIT, 1, 1, "", T0 + step * i, browser=browser(i))
            sent += 1
        except ClassError as exc:
            refused = str(exc)
    burst, per = limit
    assert sent < limit[0] + 3 and f"from this {who}" in refused
    assert sent >= burst  # the burst always passes; the refill adds a few over 2 s steps
    assert sent <= burst + int((limit[0] + 3) * step / per) + 1


def test_approve_before_showing(store: Store) -> None:
    _class(store)
    s = "c" * 16
    store.join(CODE, s, T0)
    store.options(CODE, SECRET, T0, approve=True)
    first = store.send(CODE, s, DIGIT, 4, 4, "", T0 + 1)
    second = store.send(CODE, s, DIGIT, 5, 5, "", T0 + 4)
    assert store.digits(CODE) == []
    assert [d.id for d in store.digits(CODE, waiting=True)] == [first, second]
    store.approve(CODE, SECRET, first, T0 + 5)
    assert [d.id for d in store.digits(CODE)] == [first]
    store.approve(CODE, SECRET, None, T0 + 6)
    assert [d.id for d in store.digits(CODE)] == [first, second]
    assert store.digits(CODE, waiting=True) == []
    store.options(CODE, SECRET, T0 + 7, approve=False)
    third = store.send(CODE, s, DIGIT, 6, 6, "", T0 + 8)
    assert [d.id for d in store.digits(CODE)][-1] == third


FORGED = rules.secret_hash("a guess")


@pytest.mark.parametrize(("call", "args"), [
    ("remove_seat", (CODE, FORGED, "a" * 16, T0)),
    ("remove_digit", (CODE, FORGED, 1, T0)),
    ("approve", (CODE, FORGED, None, T0)),
    ("options", (CODE, FORGED, T0)),
    ("seats", (CODE, FORGED, T0)),
    ("clear", (CODE, "", T0)),
])
def test_only_the_teacher_controls_seats_and_gallery(store: Store, call: str, args) -> None:
    _class(store)
    store.join(CODE, "a" * 16, T0)
    store.send(CODE, "a" * 16, DIGIT, 1, 1, "", T0)
    with pytest.raises(NotTeacher):
        getattr(store, call)(*args)
    assert len(store.digits(CODE)) == 1 and store.counts(CODE, T0)[0] == 1


@pytest.mark.parametrize(("browser", "address"), [
    ("x" * 100_000, "y" * 100_000),  # huge keys are cut, not stored whole
    ("b\0\n'; DROP TABLE students; --", "10.0.0.1, 10.0.0.2"),
    ("é" * 300, " "),
])
def test_hostile_browser_and_address_keys(store: Store, browser: str, address: str) -> None:
    _class(store)
    assert store.join(CODE, "d" * 16, T0, browser=browser, address=address) == 1
    assert store.join(CODE, "e" * 16, T0, browser=browser, address=address) == 2
    assert store.send(CODE, "d" * 16, DIGIT, 1, 1, "", T0, browser=browser) > 0
    assert [x.seat for x in store.seats(CODE, SECRET, T0)] == ["d" * 16, "e" * 16] or \
        sorted(x.seat for x in store.seats(CODE, SECRET, T0)) == ["d" * 16, "e" * 16]


class _Request:
    """What ``st.context`` tells of one request: its cookies, headers and address."""

    def __init__(self, cookie: str | None, ip: str | None, forwarded: str = "") -> None:
        self.cookies = {} if cookie is None else {"cnnlens_route": cookie}
        self.headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        self.ip_address = ip


def test_a_browser_is_its_signed_cookie_and_never_a_made_up_one(tmp_path, monkeypatch) -> None:
    from model.classroom import browser_id
    from ui.classroom.seats import browser_key

    secret = browser_id.new_secret()
    path = tmp_path / "browser_id.secret"
    path.write_text(secret)
    monkeypatch.setenv(browser_id.SECRET_FILE_ENV, str(path))
    signed = browser_id.mint(secret)
    assert browser_key(_Request(signed, "127.0.0.1")) == "c:" + browser_id.browser_id(signed)
    made_up = signed[:-2] + ("AA" if not signed.endswith("AA") else "BB")
    for cookie in (made_up, "0" * 32 + ".x", "x" * 100_000, None):
        assert not browser_key(_Request(cookie, "127.0.0.1")).startswith("c:")
    monkeypatch.delenv(browser_id.SECRET_FILE_ENV)  # plain `streamlit run`: no deployment secret
    assert not browser_key(_Request(signed, "127.0.0.1")).startswith("c:")


@pytest.mark.parametrize(("ip", "forwarded", "want"), [
    ("10.1.2.3", "", "10.1.2.3"),  # straight to the app
    ("10.1.2.3", "6.6.6.6", "10.1.2.3"),  # not behind our proxy: a header is the browser's word
    ("127.0.0.1", "6.6.6.6, 10.9.8.7", "10.9.8.7"),  # behind the proxy: the entry it added
    ("::1", "10.9.8.7", "10.9.8.7"),
    ("127.0.0.1", "", "127.0.0.1"),
    (None, "", "local"),
])
def test_an_address_behind_the_proxy_is_the_one_the_proxy_saw(ip, forwarded, want) -> None:
    from ui.classroom.seats import address_key

    assert address_key(_Request(None, ip, forwarded)) == want


@pytest.mark.parametrize(("link", "local"), [
    ("http://localhost:8501/?class=ABC234", True),
    ("http://127.0.0.1:8501/?class=ABC234", True),
    ("http://[::1]:8501/?class=ABC234", True),
    ("http://app.localhost/?class=ABC234", True),
    ("http://192.168.1.20:8501/?class=ABC234", False),
    ("https://lens.school.example/?class=ABC234", False),
    ("", False),
])
def test_a_join_link_only_this_machine_can_open_is_named(link: str, local: bool) -> None:
    from ui.classroom.panel import only_this_machine

    assert only_this_machine(link) is local
