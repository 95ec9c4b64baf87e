"""`dxhub robots ...`: the simulator of virtual robots and the offline sweep."""

from __future__ import annotations

import argparse
import os
import time

from app.core import commands


def add_cli(subparsers) -> None:
    robots = subparsers.add_parser("robots", help="AI robot platform (KT)")
    sub = robots.add_subparsers(dest="robots_command", required=True)

    sim = sub.add_parser("simulate", help="drive virtual robots against the API (demos, load tests)")
    sim.add_argument("--site", help="site code, e.g. cb-minwon or cheongnamdae (REST)")
    sim.add_argument("--robots", type=int, default=5, help="how many robots (the site's first, then new ones)")
    sim.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of DX Hub")
    sim.add_argument("--token", default=os.environ.get("DXHUB_API_KEY"),
                     help="API key with kt.robots:write (default: $DXHUB_API_KEY)")
    sim.add_argument("--duration", type=float, default=300.0, help="seconds to run")
    sim.add_argument("--interval", type=float, default=1.0, help="seconds between state batches")
    sim.add_argument("--seed", type=int, default=7)
    vda = sim.add_argument_group("VDA 5050 over MQTT (--vda5050): vehicles that an admin registers at a site")
    vda.add_argument("--vda5050", action="store_true", help="speak VDA 5050 v2 over MQTT instead of REST")
    vda.add_argument("--broker", default=os.environ.get("DXHUB_MQTT_URL") or "mqtt://127.0.0.1:1883",
                     help="MQTT broker (default: $DXHUB_MQTT_URL or mqtt://127.0.0.1:1883)")
    vda.add_argument("--manufacturer", default="DXHubSim", help="VDA 5050 manufacturer (the robots' vendor)")
    vda.add_argument("--map-id", default="floor-1")
    vda.add_argument("--map-size", default="30x20", help="width x height in metres the vehicles start in")
    sim.set_defaults(func=_cmd_simulate)

    sweep = sub.add_parser("sweep", help="mark robots not heard from offline, raise alerts, requeue tasks")
    sweep.add_argument("--every", type=float, default=0.0, help="repeat every N seconds (0: once)")
    sweep.set_defaults(func=_cmd_sweep)


def _cmd_simulate(args: argparse.Namespace) -> int:
    if args.vda5050:
        return _cmd_simulate_vda5050(args)
    import httpx

    from app.kt.robots.simulator import Simulator

    if not args.site:
        return commands.fail("give --site (the site code) or --vda5050")
    if not args.token:
        return commands.fail("give --token or set DXHUB_API_KEY (an API key with kt.robots:write)")
    if args.robots < 1 or args.robots > 5000:
        return commands.fail("--robots must be between 1 and 5000")
    with httpx.Client(base_url=args.url, headers={"Authorization": f"Bearer {args.token}"}, timeout=30) as client:
        try:
            sim = Simulator(client, site_code=args.site, robots=args.robots, seed=args.seed)
            print(f"Simulating {len(sim.robots)} robots at {sim.site['name']} for {args.duration:.0f} s")
            sim.run(duration_s=args.duration, interval_s=args.interval)
        except LookupError as exc:
            return commands.fail(str(exc))
        except httpx.HTTPStatusError as exc:
            return commands.fail(f"{exc.response.status_code} {exc.response.text[:300]}", status=1)
        except httpx.HTTPError as exc:
            return commands.fail(str(exc), status=1)
    return 0


def _cmd_simulate_vda5050(args: argparse.Namespace) -> int:
    from app.kt.robots.config import get_robots_settings
    from app.kt.robots.simulator_vda5050 import VdaFleet

    if args.robots < 1 or args.robots > 1000:
        return commands.fail("--robots must be between 1 and 1000 with --vda5050")
    try:
        width, height = (float(v) for v in args.map_size.lower().split("x"))
        fleet = VdaFleet(broker_url=args.broker, n=args.robots, manufacturer=args.manufacturer,
                         interface=get_robots_settings().vda5050_interface, map_id=args.map_id, width_m=width,
                         height_m=height, seed=args.seed)
    except ValueError as exc:
        return commands.fail(str(exc))
    try:
        fleet.connect()
    except OSError as exc:
        return commands.fail(f"cannot reach the broker {args.broker}: {exc}", status=1)
    names = ", ".join(v.serial for v in fleet.vehicles[:5]) + (" ..." if args.robots > 5 else "")
    print(f"{args.robots} VDA 5050 vehicles of {args.manufacturer} on {args.broker} ({names}) for "
          f"{args.duration:.0f} s; register them at a site on /kt/robots/vehicles")
    try:
        fleet.run(duration_s=args.duration, interval_s=args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        fleet.close()
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from app.kt.robots.duties import sweep_once

    try:
        with commands.database() as db:
            while True:
                gone = sweep_once(db)
                print(f"{gone} robots marked offline")
                if args.every <= 0:
                    return 0
                time.sleep(args.every)
    except KeyboardInterrupt:
        return 0
