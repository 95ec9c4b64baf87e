"""A simulated vehicle on the independent VDA 5050 implementation of the ``vda5050-sdk`` distribution.

Run as its own process (``python -m tests.kt.robots.vda5050_vehicle --serial AGV-1 ...``) so a test can
kill it and the broker sends its last will. Everything it says and reads goes through the SDK's
``VehicleClient``: its MQTT transport, its connection messages and last will, its state publisher
(headers, nodeStates, actionStates), its order acceptance and its instant actions (startPause,
cancelOrder, factsheetRequest...); with ``validate_messages`` it checks what it receives against the
schemas. The only code of ours here is the drive: each released node is reached in turn (position
updated, node and edge marked traversed), then the node's actions run and finish.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from vda5050 import ActionStatus, VehicleClient, VehicleConfig
from vda5050.model.factsheet import (
    AgvAction,
    Factsheet,
    MaxArrayLens,
    MaxStringLens,
    PhysicalParameters,
    ProtocolFeatures,
    ProtocolLimits,
    Timing,
    TypeSpecification,
)
from vda5050.model.order import Order
from vda5050.model.state import BatteryState


def factsheet(kinds: list[str]) -> Factsheet:
    actions = [AgvAction(action_type=kind, action_scopes=["NODE"]) for kind in kinds]
    actions += [AgvAction(action_type=t, action_scopes=["INSTANT"])
                for t in ("startPause", "stopPause", "cancelOrder", "startCharging", "factsheetRequest")]
    return Factsheet(
        header_id=0, version="2.1.0", manufacturer="", serial_number="",
        type_specification=TypeSpecification(series_name="SimBot", agv_kinematic="DIFF", agv_class="CARRIER",
                                             max_load_mass=0, localization_types=["NATURAL"],
                                             navigation_types=["AUTONOMOUS"]),
        physical_parameters=PhysicalParameters(speed_min=0.0, speed_max=1.5, acceleration_max=0.5,
                                               deceleration_max=0.5, height_max=1.4, width=0.6, length=0.8),
        protocol_limits=ProtocolLimits(max_string_lens=MaxStringLens(), max_array_lens=MaxArrayLens(),
                                       timing=Timing(min_order_interval=0.1, min_state_interval=0.05)),
        protocol_features=ProtocolFeatures(optional_parameters=[], agv_actions=actions),
        agv_geometry={}, load_specification={})


async def drive(vc: VehicleClient, order: Order, step_s: float) -> None:
    edges_to = {edge.end_node_id: edge for edge in order.edges}
    for node in order.nodes:
        if not node.released:
            break
        await asyncio.sleep(step_s)
        vc.publisher.set_driving(True)
        if node.node_position is not None:
            vc.update_position(x=node.node_position.x, y=node.node_position.y, theta=0.0,
                               map_id=node.node_position.map_id)
        if node.node_id in edges_to:
            vc.mark_edge_traversed(edges_to[node.node_id].edge_id, edges_to[node.node_id].sequence_id)
        vc.mark_node_traversed(node.node_id, node.sequence_id)
        vc.publisher.set_driving(False)
        for action in node.actions:
            vc.report_action(action.action_id, ActionStatus.RUNNING, action_type=action.action_type)
            await asyncio.sleep(step_s)
            vc.report_action(action.action_id, ActionStatus.FINISHED, action_type=action.action_type)
    await vc.publish_state()


async def run(args: argparse.Namespace) -> None:
    config = VehicleConfig(manufacturer=args.manufacturer, serial_number=args.serial, broker_url=args.broker,
                           state_interval=args.state_interval, validate_messages=True, keepalive=5)
    vc = VehicleClient(config, factsheet_provider=lambda: factsheet(args.kinds.split(",")))
    await vc.connect()
    vc.publisher.set_battery(BatteryState(battery_charge=args.battery, charging=False))
    vc.update_position(x=args.x, y=args.y, theta=0.0, map_id=args.map_id)
    running: set[asyncio.Task[None]] = set()

    @vc.on_order
    async def _order(order: Order) -> None:
        task = asyncio.create_task(drive(vc, order, args.step_s))
        running.add(task)
        task.add_done_callback(running.discard)

    print("vehicle ready", flush=True)
    await asyncio.Event().wait()  # until the test ends or kills the process


def main() -> None:
    import time_machine

    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--manufacturer", required=True)
    parser.add_argument("--serial", required=True)
    parser.add_argument("--map-id", default="f1")
    parser.add_argument("--x", type=float, default=2.0)
    parser.add_argument("--y", type=float, default=10.0)
    parser.add_argument("--battery", type=float, default=90.0)
    parser.add_argument("--kinds", default="guide")
    parser.add_argument("--state-interval", type=float, default=0.5)
    parser.add_argument("--step-s", type=float, default=0.2)
    parser.add_argument("--start-at", help="ISO time the vehicle's clock starts from (the test's clock)")
    args = parser.parse_args()
    if args.start_at:  # the test runs at a fixed instant; a subprocess does not travel along by itself
        with time_machine.travel(datetime.fromisoformat(args.start_at), tick=True):
            asyncio.run(run(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
