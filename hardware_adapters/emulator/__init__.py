"""The device emulator: a real MQTT 5 client that behaves like a vending machine per the device contract."""

from hardware_adapters.emulator.cli import main
from hardware_adapters.emulator.device import DeviceEmulator, EmulatorStats
from hardware_adapters.emulator.machine import MachineError, Slot, default_slots
from hardware_adapters.emulator.purchases import PurchaseSource, RandomPurchases

__all__ = [
    "DeviceEmulator",
    "EmulatorStats",
    "MachineError",
    "PurchaseSource",
    "RandomPurchases",
    "Slot",
    "default_slots",
    "main",
]
