"""The program modules this platform runs: one line each. The core reads this list and nothing else."""

from __future__ import annotations

from app.core.manifest import ModuleManifest


def load_manifests() -> list[ModuleManifest]:
    from app.kt.cctv import manifest as kt_cctv
    from app.kt.robots import manifest as kt_robots
    from app.kt.voicebot import manifest as kt_voicebot
    from app.kt.worknet import manifest as kt_worknet
    from app.lguplus.citydata import manifest as lguplus_citydata
    from app.lguplus.merchants import manifest as lguplus_merchants
    from app.skt.isolation import manifest as skt_isolation
    from app.skt.tdeal import manifest as skt_tdeal

    return [
        skt_isolation.MANIFEST,
        skt_tdeal.MANIFEST,
        kt_worknet.MANIFEST,
        kt_voicebot.MANIFEST,
        kt_robots.MANIFEST,
        kt_cctv.MANIFEST,
        lguplus_merchants.MANIFEST,
        lguplus_citydata.MANIFEST,
    ]
