"""The HTML pages: sign in, sign up, account, sign out, forgotten passwords and
email verification. They work without JavaScript."""

from __future__ import annotations

import secrets
import time
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import audit, passwords, tokens
from ..audit import DESCRIPTIONS
from ..exc import DuplicateError, NotFound, ValidationError
from ..mail import Message, send_later
from ..redirects import safe_next
from ..store import User, normalize_email, normalize_origin
from .devices import describe
from .forms import (ConfirmForm, DeleteForm, EmailForm, ForgotForm, LoginForm, PasswordForm, ProfileForm,
                    ResetForm, SignupForm)
from .state import current_session, end_session, service, start_session

bp = Blueprint("pages", __name__)

#: The cookie that marks a browser its account signed in on (OWASP "device
#: cookies"): its own sign-in window, so a storm of wrong passwords against the
#: account does not lock the owner out here. Signed; holds no secret.
DEVICE_COOKIE = "onebar_device"
DEVICE = ("onebar.device", 365 * 24 * 3600)

#: The throttle's subject for account creation: at most the per-account limit
#: of sign-ups per address and window (emails are never this word).
SIGNUP = "sign-up"

NEUTRAL_DISABLED = "This account cannot sign in. Ask the administrator of this service."


@bp.app_context_processor
def _policy() -> dict[str, Any]:
    return {"signup_open": service().settings.signup == "open"}


def _address() -> str:
    return request.remote_addr or ""


def _audit(event: str, user: User | None = None, *, email: str = "", app: str = "", detail: str = "") -> None:
    audit.record(service().store, event, user=user, email=email, address=_address(), app=app, detail=detail)


def _typed_email(email: str) -> str:
    """What someone typed as an email, for the audit log: only if it is one
    (a password typed into the email field must not land in the log)."""
    try:
        normalize_email(email)
    except ValidationError:
        return "(not an email address)"
    return email.strip()[:320]


def _mail(to: str, subject: str, body: str) -> None:
    send_later(service().mailer, Message(to=to, subject=subject, body=body))


def _link(endpoint: str, **values: str) -> str | None:
    origin = service().mail_origin()
    return origin + url_for(endpoint, **values) if origin else None


def send_verification(user: User) -> bool:
    svc = service()
    link = _link("pages.verify_email", token=svc.links.dumps(tokens.VERIFY, {"u": user.id, "e": user.email}))
    if link is None:
        current_app.logger.warning("no mail link: set ONEBAR_PUBLIC_URL (the address links in mail point to)")
        return False
    _mail(user.email, "Confirm your email for Onebar",
          f"Hello {user.name},\n\nPlease confirm that this is your email address by opening this link "
          f"(it works for 3 days):\n\n{link}\n\nIf you did not create an Onebar account, ignore this message.\n")
    return True


def _device_for(email: str) -> str | None:
    """The device id of this browser if it has signed in to ``email`` since its password last changed.

    The cookie carries the account's token version, which a password change
    or reset (and an email change) moves on: a browser that signed in before
    a reset, perhaps the guesser's who had the old password, is a stranger
    again, with the strangers' limits.
    """
    svc = service()
    payload = svc.links.loads(DEVICE, request.cookies.get(DEVICE_COOKIE))
    try:
        key = normalize_email(email)
    except ValidationError:
        return None
    if not (payload and payload.get("e") == key and isinstance(payload.get("n"), str)):
        return None
    user = svc.store.get_user_by_email(key)
    if user is None or svc.store.get_token_version(user.id) != payload.get("v"):
        return None
    return str(payload["n"])


def _remember_device(user: User) -> None:
    """Make this browser a known device of ``user`` at the account's current token version."""
    svc = service()
    g.onebar_device = svc.links.dumps(DEVICE, {"e": normalize_email(user.email), "n": secrets.token_urlsafe(12),
                                               "v": svc.store.get_token_version(user.id)})


@bp.after_app_request
def _write_device_cookie(response: Response) -> Response:
    value = g.pop("onebar_device", None)
    if value:
        s = service().settings
        # Secure as the session cookie is: when configured, and on any https
        # request (behind a trusted TLS proxy without public_url set).
        response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE[1], path="/login",
                            secure=bool(s.cookie_secure) or request.scheme == "https", httponly=True, samesite="Lax")
    return response


@bp.before_request
def refuse_cross_origin_forms() -> tuple[str, int] | None:
    """Every form POST must come from the service's own pages.

    The CSRF token alone does not stop login CSRF: a page on a sibling
    subdomain can plant the CSRF cookie for the parent domain and post a
    token it fetched itself, signing the victim in as the attacker. So a
    state-changing form is refused unless the browser says it was sent from
    this origin: ``Origin`` when present, else ``Sec-Fetch-Site``, else the
    ``Referer``. A client that sends none of them (curl, a privacy proxy)
    still needs the CSRF token and cookie, which no other site can read.
    """
    if request.method != "POST" or _from_own_origin():
        return None
    current_app.logger.warning(
        "refused a form POST to %s from another origin (Origin %r, Sec-Fetch-Site %r); if this service's "
        "public origin is not %s, set ONEBAR_PUBLIC_URL", request.path, request.headers.get("Origin"),
        request.headers.get("Sec-Fetch-Site"), service().own_origin())
    return render_template(
        "error.html", title="Please try again",
        message="This form was sent from another site. Open the page on this site and try again."), 403


def _from_own_origin() -> bool:
    own = service().own_origin()
    origin = request.headers.get("Origin")
    if origin is not None:
        return _same_origin(origin, own)
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")  # "none": the user typed it or used a bookmark
    referer = request.headers.get("Referer")
    return not referer or _same_origin(referer, own)


def _same_origin(url: str, own: str) -> bool:
    try:
        return normalize_origin(url) == normalize_origin(own)
    except ValidationError:
        return False  # "null", a foreign scheme, garbage


def _next_target(default: str = "/") -> str:
    raw = request.form.get("next") if request.method == "POST" else request.args.get("next")
    return safe_next(raw, service().redirect_origins(), default)


def _wait_words(seconds: int) -> str:
    """``seconds`` as a person reads a wait: "45 seconds", "58 minutes", "23 hours"."""
    if seconds < 120:
        return f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes" if minutes < 120 else f"{-(-minutes // 60)} hours"


#: Said with every refused sign-in: the way out for an owner on a browser the
#: account never signed in on while its account is being guessed at.
LOCKED_WAY_OUT = ("If this is your account, “Forgot your password?” below emails you a link that signs you "
                  "in on this browser now.")


def _too_many_sign_ins(retry_after: int, form: LoginForm) -> tuple[str, int, dict[str, str]]:
    form.form_errors.append(f"Too many attempts. Try again in {_wait_words(retry_after)}.")
    form.form_errors.append(LOCKED_WAY_OUT)
    return render_template("login.html", form=form), 429, {"Retry-After": str(retry_after)}


@bp.get("/")
def index() -> str | Response:
    if current_session() is not None:
        return redirect(url_for(".account"))
    return render_template("index.html", apps=service().apps)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    svc = service()
    form = LoginForm()
    if request.method == "GET":
        form.next.data = _next_target(default="")
        return render_template("login.html", form=form, signed_in=current_session())
    if not form.validate_on_submit():
        return render_template("login.html", form=form), 400
    address, email = _address(), form.email.data or ""
    device = _device_for(email)
    app = svc.app_for(_next_target(default=""))
    # Failures first (guessing), then every attempt (each costs a hash). A
    # browser this account signed in on before counts in windows of its own.
    wait = (svc.throttle.retry_after(address, email, device=device, anywhere=True)
            or svc.throttle.attempt(address, email, device=device))
    if wait is not None:
        return _too_many_sign_ins(wait, form)
    found = svc.store.get_credentials(email)
    # verify() spends the same time whether or not the account exists; the
    # pool bounds how many run at once (503 past it).
    with svc.hashing.slot():
        matched = passwords.verify(found[1] if found else None, form.password.data or "")
    if not matched or found is None:
        svc.throttle.count(address, email, device=device, anywhere=True)
        user = found[0] if found else None
        typed = _typed_email(email)
        _audit("login.failure", user, email=typed, app=app, detail="known device" if device else "")
        if svc.throttle.retry_after(address, email, device=device, anywhere=True) is not None:
            _audit("login.lockout", user, email=typed, app=app, detail="known device" if device else "")
        form.form_errors.append("That email and password do not match an account.")
        return render_template("login.html", form=form), 401
    user = found[0]
    if user.disabled:
        _audit("login.failure", user, app=app, detail="account disabled")
        form.form_errors.append(NEUTRAL_DISABLED)
        return render_template("login.html", form=form), 403
    svc.throttle.reset(address, email, device=device)
    start_session(user.id)
    if device is None:
        _remember_device(user)
    _audit("login.success", user, app=app)
    return redirect(_next_target(), 303)


#: The page for an invitation link whose sign-up already happened, or that a newer invitation replaced.
INVITE_USED = ("This invitation has been used",
               "An invitation works once, and a newer one replaces it. "
               "Sign in if you have an account, or ask for a new invitation.")


def _domain_allowed(email: str, domains: tuple[str, ...]) -> bool:
    """Whether sign-up's domain list (none: any) admits ``email``, compared as emails are (NFKC, case-folded)."""
    return not domains or normalize_email(email).rpartition("@")[2] in domains


def _closed(title: str, message: str) -> tuple[str, int]:
    return render_template("error.html", title=title, message=message), 403


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> str | Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    svc = service()
    policy, domains = svc.settings.signup, svc.settings.signup_domains
    if policy == "closed":
        return _closed("Sign-up is closed", "New accounts are created by the service's administrator.")
    form = SignupForm()
    raw_invite = request.args.get("invite") if request.method == "GET" else form.invite.data
    invite = (svc.links.loads(tokens.INVITE, raw_invite) if raw_invite else None) or {}
    nonce = invite.get("n") if isinstance(invite.get("n"), str) else None  # older links had none: refused
    invited = invite.get("e") if nonce and isinstance(invite.get("e"), str) else None
    if raw_invite and (invited is None or nonce is None):
        return _closed("This invitation link does not work",
                       "It has expired or is incomplete. Ask for a new invitation.")
    if invited is not None and nonce is not None and not svc.store.invite_pending(invited, nonce):
        return _closed(*INVITE_USED)
    if policy == "invite" and invited is None:
        return _closed("Sign-up is by invitation", "Ask the service's administrator for an invitation.")
    if request.method == "GET":
        form.next.data = _next_target(default="")
        form.invite.data = raw_invite or ""
        form.email.data = invited or form.email.data
        return render_template("signup.html", form=form, invited=invited, domains=domains)
    if not form.validate_on_submit():
        return render_template("signup.html", form=form, invited=invited, domains=domains), 400
    if invited is not None:
        form.email.data = invited  # an invitation is for one address
    elif not _domain_allowed(form.email.data or "", domains):
        form.email.errors = [f"Sign-up is open to addresses at {', '.join(domains)} only."]
        return render_template("signup.html", form=form, invited=invited, domains=domains), 403
    address = _address()
    wait = svc.throttle.retry_after(address, SIGNUP)
    if wait is not None:
        form.form_errors.append(f"Too many attempts. Try again in {wait} seconds.")
        return render_template("signup.html", form=form, invited=invited, domains=domains), 429, {
            "Retry-After": str(wait)}
    svc.throttle.count(address, SIGNUP)
    with svc.hashing.slot():
        hashed = passwords.hash_password(form.password.data or "")
    try:
        user = svc.store.create_user(form.email.data or "", form.name.data or "", hashed,
                                     invite=nonce if invited is not None else None)
    except DuplicateError:
        form.email.errors = ["An account with this email already exists. Sign in instead?"]
        return render_template("signup.html", form=form, invited=invited, domains=domains), 409
    except NotFound:  # the invitation was used (a second tab, a double post) since the checks above
        return _closed(*INVITE_USED)
    _audit("signup", user, app=svc.app_for(_next_target(default="")), detail="invited" if invited else "")
    if invited is not None:
        svc.store.mark_email_verified(user.id, invited)  # the invitation reached this mailbox
    else:
        send_verification(user)
    start_session(user.id)
    _remember_device(user)
    return redirect(_next_target(), 303)


def _require_user():  # type: ignore[no-untyped-def]
    active = current_session()
    if active is None:
        abort(redirect(url_for(".login", next=request.full_path.rstrip("?")), 303))
    return active


def _account_page(profile: ProfileForm | None = None, password: PasswordForm | None = None, status: int = 200,
                  email: EmailForm | None = None, delete: DeleteForm | None = None):  # type: ignore[no-untyped-def]
    active = _require_user()
    user = active.user
    profile = profile or ProfileForm(data={"name": user.name, "avatar_url": user.avatar_url or ""})
    store = service().store
    sessions = store.list_sessions(user.id, int(time.time()))
    events = store.list_audit(user_id=user.id, limit=10)[::-1]  # newest first
    return (
        render_template(
            "account.html",
            user=user,
            current_key=active.session.key,
            sessions=sessions,
            describe=describe,
            events=events,
            descriptions=DESCRIPTIONS,
            profile=profile,
            password=password or PasswordForm(),
            email_form=email or EmailForm(prefix="change"),
            delete_form=delete or DeleteForm(prefix="delete"),
            confirm=ConfirmForm(),
            apps=service().apps,
        ),
        status,
    )


def _check_password(active, form_field, subject: str):  # type: ignore[no-untyped-def]
    """Throttled re-entry of the current password: None when right, else a page."""
    svc = service()
    address, subject = _address(), f"{subject}:{active.user.id}"
    wait = svc.throttle.retry_after(address, subject)
    if wait is not None:
        form_field.errors = [f"Too many attempts. Try again in {wait} seconds."]
        return wait
    found = svc.store.get_credentials(active.user.email)
    with svc.hashing.slot():
        matched = found is not None and passwords.verify(found[1], form_field.data or "")
    if not matched:
        svc.throttle.count(address, subject)
        form_field.errors = ["That is not your current password."]
        return 0
    return None


@bp.get("/account")
def account():  # type: ignore[no-untyped-def]
    return _account_page()


@bp.post("/account/profile")
def update_profile():  # type: ignore[no-untyped-def]
    active = _require_user()
    form = ProfileForm()
    if not form.validate_on_submit():
        return _account_page(profile=form, status=400)
    # An empty picture field clears the picture (the store keeps NULL).
    service().store.update_user(active.user.id, name=form.name.data, avatar_url=form.avatar_url.data or "")
    flash("Your profile is saved.")
    return redirect(url_for(".account"), 303)


@bp.post("/account/password")
def change_password():  # type: ignore[no-untyped-def]
    active = _require_user()
    svc = service()
    form = PasswordForm()
    if not form.validate_on_submit():
        return _account_page(password=form, status=400)
    # Someone holding a stolen session must not be able to guess the password.
    address, subject = request.remote_addr or "", f"password:{active.user.id}"
    wait = svc.throttle.retry_after(address, subject)
    if wait is not None:
        form.current.errors = [f"Too many attempts. Try again in {wait} seconds."]
        page, _ = _account_page(password=form)
        return page, 429, {"Retry-After": str(wait)}
    found = svc.store.get_credentials(active.user.email)
    with svc.hashing.slot():
        matched = found is not None and passwords.verify(found[1], form.current.data or "")
    if not matched:
        svc.throttle.count(address, subject)
        form.current.errors = ["That is not your current password."]
        return _account_page(password=form, status=400)
    # One transaction: the new password and the end of every existing session.
    with svc.hashing.slot():
        hashed = passwords.hash_password(form.password.data or "")
    svc.store.set_password(active.user.id, hashed)
    _audit("password.change", active.user, detail="other sessions signed out")
    start_session(active.user.id)  # this browser carries on, with a fresh session
    _remember_device(active.user)  # and stays a known device, at the new token version
    flash("Your password is changed. Every other device is signed out.")
    return redirect(url_for(".account"), 303)


@bp.post("/account/sessions/<key>/revoke")
def revoke_session(key: str):  # type: ignore[no-untyped-def]
    active = _require_user()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if key == active.session.key:
        end_session()
        _audit("logout", active.user)
        return redirect(url_for(".login"), 303)
    if service().store.revoke_session_key(active.user.id, key):
        _audit("session.revoke", active.user, detail="one device")
    flash("That device is signed out.")
    return redirect(url_for(".account"), 303)


@bp.post("/account/sessions/revoke-all")
def revoke_all():  # type: ignore[no-untyped-def]
    active = _require_user()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    count = service().store.revoke_user_sessions(active.user.id)
    end_session()
    _audit("session.revoke", active.user, detail=f"all devices ({count})")
    flash("You are signed out everywhere.")
    return redirect(url_for(".login"), 303)


@bp.route("/logout", methods=["GET", "POST"])
def logout():  # type: ignore[no-untyped-def]
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        active = current_session()
        end_session()
        if active is not None:
            _audit("logout", active.user, app=service().app_for(_next_target(default="")))
        return redirect(_next_target(), 303)
    form.next.data = _next_target(default="")
    return render_template("logout.html", form=form, signed_in=current_session())


@bp.post("/account/email")
def change_email():  # type: ignore[no-untyped-def]
    active = _require_user()
    svc = service()
    form = EmailForm(prefix="change")
    if not form.validate_on_submit():
        return _account_page(email=form, status=400)
    wait = _check_password(active, form.current, "email")
    if wait is not None:
        page, _ = _account_page(email=form)
        return (page, 429, {"Retry-After": str(wait)}) if wait else (page, 400)
    old = active.user
    domains = svc.settings.signup_domains
    if not _domain_allowed(form.email.data or "", domains):
        form.email.errors = [f"Use an address at {', '.join(domains)}."]
        return _account_page(email=form, status=400)
    try:
        user = svc.store.set_email(old.id, form.email.data or "")
    except DuplicateError:
        form.email.errors = ["Another account uses this email."]
        return _account_page(email=form, status=409)
    _audit("email.change", user, detail=f"from {old.email}")
    _remember_device(user)  # this browser stays a known device, under the new email
    send_verification(user)
    _mail(old.email, "Your Onebar email was changed",
          f"Hello {old.name},\n\nThe email of your Onebar account was changed from {old.email} to {user.email}.\n"
          "If you did not do this, reset your password and contact the service's administrator.\n")
    flash(f"Your email is now {user.email}. We sent a link to confirm it.")
    return redirect(url_for(".account"), 303)


@bp.post("/account/delete")
def delete_account():  # type: ignore[no-untyped-def]
    active = _require_user()
    form = DeleteForm(prefix="delete")
    if not form.validate_on_submit():
        return _account_page(delete=form, status=400)
    wait = _check_password(active, form.current, "delete")
    if wait is not None:
        page, _ = _account_page(delete=form)
        return (page, 429, {"Retry-After": str(wait)}) if wait else (page, 400)
    end_session()
    service().store.delete_user(active.user.id)
    _audit("account.delete", active.user, detail="by the user")
    flash("Your account is deleted. Every app has forgotten you.")
    return redirect(url_for(".index"), 303)


@bp.post("/account/verify/resend")
def resend_verification():  # type: ignore[no-untyped-def]
    active = _require_user()
    svc = service()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if active.user.email_verified:
        return redirect(url_for(".account"), 303)
    address, subject = _address(), f"verify:{active.user.id}"
    wait = svc.throttle.retry_after(address, subject)
    if wait is not None:
        flash(f"A link was sent a moment ago. Try again in {wait} seconds.")
        return redirect(url_for(".account"), 303)
    svc.throttle.count(address, subject)
    send_verification(active.user)
    flash(f"We sent a new link to {active.user.email}.")
    return redirect(url_for(".account"), 303)


@bp.route("/email/verify/<token>", methods=["GET", "POST"])
def verify_email(token: str):  # type: ignore[no-untyped-def]
    """GET shows a button; POST confirms (a mail scanner's GET changes nothing)."""
    svc = service()
    payload = svc.links.loads(tokens.VERIFY, token)
    user = svc.store.get_user(str(payload.get("u"))) if payload else None
    if user is None or payload is None or str(payload.get("e", "")).casefold() != user.email.casefold():
        return render_template("error.html", title="This link does not work",
                               message="It has expired, or the account's email has changed since it was sent. "
                               "Sign in and send a new link from your account page."), 400
    form = ConfirmForm()
    if request.method == "GET":
        return render_template("verify.html", form=form, user=user)
    if not form.validate_on_submit():
        abort(400)
    if not user.email_verified and svc.store.mark_email_verified(user.id, user.email):
        _audit("email.verify", user)
    flash(f"Thank you: {user.email} is confirmed.")
    return redirect(url_for(".account") if current_session() else url_for(".login"), 303)


RESET_SENT = ("If an account uses that address, we have sent it a link to choose a new password. "
              "The link works once, for 30 minutes.")


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():  # type: ignore[no-untyped-def]
    svc = service()
    form = ForgotForm()
    if request.method == "GET":
        return render_template("forgot.html", form=form)
    if not form.validate_on_submit():
        return render_template("forgot.html", form=form), 400
    address, email = _address(), form.email.data or ""
    subject = f"forgot:{email}"
    wait = svc.throttle.retry_after(address, subject)
    if wait is not None:
        form.form_errors.append(f"Too many requests. Try again in {wait} seconds.")
        return render_template("forgot.html", form=form), 429, {"Retry-After": str(wait)}
    svc.throttle.count(address, subject)
    user = svc.store.get_user_by_email(email)
    # Logged either way: the same work whether or not the account exists.
    _audit("password.reset-request", user, email=_typed_email(email),
           detail="" if user is not None else "no such account")
    if user is not None and not user.disabled:
        version = svc.store.get_token_version(user.id)
        link = _link("pages.reset_password", token=svc.links.dumps(tokens.RESET, {"u": user.id, "v": version}))
        if link is not None:
            _mail(user.email, "Reset your Onebar password",
                  f"Hello {user.name},\n\nSomeone (we hope you) asked to reset your Onebar password. "
                  f"Choose a new one here; the link works once, for 30 minutes:\n\n{link}\n\n"
                  "If it was not you, ignore this message: your password stays as it is.\n")
        else:
            current_app.logger.warning("no reset link sent: set ONEBAR_PUBLIC_URL")
    # The same answer, whether or not the address has an account.
    return render_template("forgot_sent.html", message=RESET_SENT)


def _reset_user(token: str) -> User | None:
    svc = service()
    payload = svc.links.loads(tokens.RESET, token)
    if payload is None:
        return None
    user = svc.store.get_user(str(payload.get("u")))
    if user is None or user.disabled or svc.store.get_token_version(user.id) != payload.get("v"):
        return None  # used already, or the password or email changed since
    return user


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):  # type: ignore[no-untyped-def]
    svc = service()
    user = _reset_user(token)
    if user is None:
        return render_template("error.html", title="This link does not work",
                               message="It has expired or was used already. Ask for a new one on the "
                               "“Forgot your password?” page."), 400
    form = ResetForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("reset.html", form=form, user=user), (200 if request.method == "GET" else 400)
    # One transaction: the new password, a new token version (this link dies)
    # and the end of every session of the account.
    with svc.hashing.slot():
        hashed = passwords.hash_password(form.password.data or "")
    svc.store.set_password(user.id, hashed)
    _audit("password.reset", user, detail="all sessions signed out")
    start_session(user.id)
    _remember_device(user)
    flash("Your password is changed. Every other device is signed out.")
    return redirect(url_for(".account"), 303)
