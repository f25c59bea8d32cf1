"""The desk's own words (staff-facing, so not in the subscribers' catalogue), Persian digits and Jalali dates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import jdatetime

from sms_gateway.desk.stats import TEHRAN

FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")

WORDS: dict[str, tuple[str, str]] = {
    "title": ("میز کارشناس کنتور", "Kontor desk"),
    "login": ("ورود", "Sign in"),
    "name": ("نام کاربری", "User name"),
    "password": ("گذرواژه", "Password"),
    "logout": ("خروج", "Sign out"),
    "bad_login": ("نام کاربری یا گذرواژه نادرست است.", "Wrong name or password."),
    "locked": (
        "به‌خاطر تلاش‌های ناموفق، حساب چند دقیقه قفل است.",
        "Too many failed attempts: the account is locked for a few minutes.",
    ),
    "queue": ("صف بررسی", "Review queue"),
    "search": ("جستجو", "Search"),
    "stats": ("آمار", "Statistics"),
    "audit": ("رویدادها", "Audit log"),
    "users": ("کاربران", "Users"),
    "status": ("وضعیت", "Status"),
    "any": ("همه", "any"),
    "company": ("کد شرکت", "Company code"),
    "from": ("از", "From"),
    "to": ("تا", "To"),
    "filter": ("اعمال", "Apply"),
    "tracking": ("رهگیری", "Tracking no."),
    "bill_id": ("شناسه قبض", "Bill ID"),
    "reason": ("دلیل", "Reason"),
    "channel": ("کانال", "Channel"),
    "waited": ("انتظار", "Waited"),
    "confirmed": ("ثبت", "Confirmed"),
    "no_rows": ("موردی نیست.", "Nothing here."),
    "open": ("باز کردن", "Open"),
    "request": ("درخواست", "Request"),
    "register": ("شمارنده", "Register"),
    "reading": ("کارکرد", "Reading"),
    "last_reading": ("قرائت قبلی", "Last reading"),
    "consumption": ("مصرف", "Consumption"),
    "usual_use": ("مصرف معمول این دوره", "Usual use for the period"),
    "answers": ("پاسخ مشترک", "Subscriber's answers"),
    "wrapped": ("کنتور دور زده (تایید مشترک)", "meter rolled over (confirmed by the subscriber)"),
    "above_usual": ("بیش از مصرف معمول", "above the usual use"),
    "reading_date": ("تاریخ قرائت", "Reading date"),
    "description": ("توضیحات", "Description"),
    "receipt": ("رسید پرداخت", "Payment receipt"),
    "attachments": ("پیوست‌ها", "Attachments"),
    "download": ("دریافت", "Download"),
    "history": ("سابقه وضعیت", "Status history"),
    "sms_sent": ("پیامک‌ها", "SMS sent"),
    "national_id": ("کد ملی", "National ID"),
    "mobile": ("همراه", "Mobile"),
    "reveal": ("نمایش کامل", "Reveal"),
    "decide": ("تصمیم", "Decision"),
    "approve": ("تایید و صدور قبض", "Approve: issue the bill"),
    "reread": ("درخواست قرائت مجدد", "Ask to read again"),
    "reject": ("رد", "Reject"),
    "note": ("یادداشت", "Note"),
    "decided_by": ("تصمیم‌گیرنده", "Decided by"),
    "decided": ("تصمیم ثبت شد و پیامک فرستاده می‌شود.", "Decided; the SMS is on its way."),
    "already_decided": (
        "کارشناس دیگری پیش‌تر درباره این درخواست تصمیم گرفته است.",
        "Another reviewer has already decided this request.",
    ),
    "being_decided": (
        "کارشناس دیگری همین حالا درباره این درخواست تصمیم می‌گیرد.",
        "Another reviewer is deciding this request right now.",
    ),
    "try_later": ("اکنون ممکن نیست؛ کمی بعد دوباره تلاش کنید.", "Not possible right now; try again shortly."),
    "bill_failed": (
        "سامانه مشترکین قبض را صادر نکرد؛ بعدا دوباره تلاش کنید.",
        "The subscriber system did not issue the bill; try again later.",
    ),
    "not_found": ("پیدا نشد.", "Not found."),
    "amount": ("مبلغ (ریال)", "Amount (rials)"),
    "payment_id": ("شناسه پرداخت", "Payment ID"),
    "meter_unavailable": ("سامانه مشترکین در دسترس نیست.", "The subscriber system is unreachable."),
    "by_month": ("ماهانه", "Monthly"),
    "by_season": ("فصلی", "Seasonal"),
    "by_year": ("سالانه", "Yearly"),
    "csv": ("دریافت CSV", "Download CSV"),
    "requests": ("تعداد درخواست‌ها", "Requests"),
    "service_time": ("زمان ارائه خدمت (ساعت)", "Service time (hours)"),
    "at": ("زمان", "When"),
    "actor": ("کاربر", "Who"),
    "action": ("رویداد", "Action"),
    "subject": ("موضوع", "Subject"),
    "detail": ("جزئیات", "Detail"),
    "role": ("نقش", "Role"),
    "add_user": ("افزودن کاربر", "Add user"),
    "disable": ("غیرفعال کردن", "Disable"),
    "active": ("فعال", "active"),
    "disabled": ("غیرفعال", "disabled"),
    "user_added": ("کاربر افزوده شد.", "User added."),
    "user_disabled": ("کاربر غیرفعال شد.", "User disabled."),
    "forbidden": ("این صفحه برای نقش شما نیست.", "Your role may not open this page."),
    "csrf": ("فرم منقضی یا نامعتبر است؛ صفحه را دوباره باز کنید.", "The form expired or is invalid; reload the page."),
    "search_hint": ("رهگیری، شناسه قبض، همراه یا کد ملی", "Tracking no., bill ID, mobile or national ID"),
    "switch": ("English", "فارسی"),
    "hours": ("ساعت", "h"),
    "days": ("روز", "d"),
    "kwh": ("کیلووات‌ساعت", "kWh"),
    "sms": ("پیامک", "SMS"),
    "twilio": ("توییلیو", "Twilio"),  # the inbound channels a request records (sms_gateway.channels)
    "kavenegar": ("کاوه‌نگار", "Kavenegar"),
    "sent": ("ارسال شد", "sent"),
    "pending": ("در صف ارسال", "pending"),
    "failed": ("ناموفق", "failed"),
    "suppressed": ("لغو عضویت مشترک", "opted out"),
    # why the subscriber system (or Kontor) sent a request to review: staff read these, subscribers never do
    "reason_meter_wrapped": ("کنتور دور زده است", "the meter rolled over"),
    "reason_reading_below_last": ("قرائت کمتر از قبلی", "a reading below the last one"),
    "reason_usage_far_above_usual": ("مصرف بسیار بیش از معمول", "use far above the usual"),
    "reason_demand_above_contract": ("دیماند بیش از قرارداد", "demand above the contract"),
    "reason_subscriber_system_refused": ("سامانه مشترکین درخواست را نپذیرفت", "the subscriber system refused it"),
    "reason_civil_registry_refused": ("ثبت احوال پاسخ نداد", "the civil registry refused the lookup"),
    "reason_mobile_ownership_refused": ("استعلام مالکیت سیم‌کارت انجام نشد", "the mobile ownership lookup failed"),
    "reviewer": ("کارشناس", "reviewer"),
    "auditor": ("ناظر", "auditor"),
    "admin": ("مدیر", "admin"),
}


COLUMNS = {
    "period": ("دوره", "period"),
    "requests": ("درخواست", "requests"),
    "avg": ("میانگین", "average"),
    "p90": ("صدک ۹۰", "90th pct"),
    "channel": ("کانال", "channel"),
    "hours": ("ساعت", "hours"),
}


def column(name: str, lang: str, status_name: Callable[[str], str]) -> str:
    """A statistics column (as the CSV names it) in the page's language: bill_issued_avg_hours -> its words."""
    pick = 0 if lang == "fa" else 1
    if name in COLUMNS:
        return COLUMNS[name][pick]
    if name.startswith("channel_"):
        return f"{COLUMNS['channel'][pick]} {word(name[8:], lang)}"
    if name.endswith("_hours"):
        outcome, stat = name[:-6].rsplit("_", 1) if name.count("_") > 1 else ("", name[:-6])
        head = f"{status_name(outcome)}: " if outcome else ""
        return f"{head}{COLUMNS[stat][pick]} ({COLUMNS['hours'][pick]})"
    return status_name(name)


def word(key: str, lang: str) -> str:
    fa, en = WORDS.get(key, (key, key))
    return fa if lang == "fa" else en


def digits(value: object, lang: str) -> str:
    """Persian digits on the Persian desk; IDs stay readable left to right thanks to dir=ltr spans."""
    text = "" if value is None else str(value)
    return text.translate(FA_DIGITS) if lang == "fa" else text


def jalali(moment: datetime | date | None, lang: str) -> str:
    """A stored naive-UTC time (or a date) as the Tehran Jalali date, e.g. ۱۴۰۵/۰۹/۰۵ ۱۴:۳۰."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        local = moment.replace(tzinfo=UTC).astimezone(TEHRAN)
        day = jdatetime.date.fromgregorian(date=local.date())
        text = f"{day.year:04d}/{day.month:02d}/{day.day:02d} {local.hour:02d}:{local.minute:02d}"
    else:
        day = jdatetime.date.fromgregorian(date=moment)
        text = f"{day.year:04d}/{day.month:02d}/{day.day:02d}"
    return digits(text, lang)


def waited(since: datetime, now: datetime, lang: str) -> str:
    """How long a request has waited, in days and hours."""
    span = max(now - since, timedelta())
    days, hours = span.days, span.seconds // 3600
    text = f"{days} {word('days', lang)} {hours} {word('hours', lang)}" if days else f"{hours} {word('hours', lang)}"
    return digits(text, lang)
