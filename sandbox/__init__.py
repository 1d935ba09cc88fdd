"""Local stand-ins for the Microsoft services the bot talks to (`python -m sandbox`).

Sub-packages: `sandbox.partner_center` (Referrals API simulator). An Entra ID fake will sit next to it.
"""
