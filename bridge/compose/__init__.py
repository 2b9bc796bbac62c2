"""The composition: ONE shop assembly (`shop.py`) and ONE policy factory (`policies.py`) for every
backend; `sim`, `arena`, `live` (and `hil`) are thin entry points that call them. The only package of
`bridge` that imports `sim_backend` or `hardware_adapters`."""
