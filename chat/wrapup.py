"""The counselor's wrap-up: fixed choices only, so that no personal data can go in."""

from __future__ import annotations

import enum


class WrapupCategory(enum.StrEnum):
    SEXUAL_EXPLOITATION = "sexual_exploitation"
    CRIMINAL_EXPLOITATION = "criminal_exploitation"
    ABUSE_AT_HOME = "abuse_at_home"
    ONLINE_ABUSE = "online_abuse"
    SEXUAL_VIOLENCE = "sexual_violence"
    WORRY_ABOUT_CHILD = "worry_about_child"
    MENTAL_HEALTH = "mental_health"
    INFORMATION = "information"
    OTHER = "other"
    NOT_A_REAL_CHAT = "not_a_real_chat"


class RiskLevel(enum.StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    ACUTE = "acute"


class Referral(enum.StrEnum):
    NONE = "none"
    EMERGENCY_112 = "112"
    POLICE = "police"
    VEILIG_THUIS = "veilig_thuis"
    KINDERTELEFOON = "kindertelefoon"
    SUICIDE_PREVENTION_113 = "113"
    GP = "gp"
    OWN_SERVICE = "own_service"
    OTHER = "other"
