"""JSON schemas the bot ships with (the Teams app manifest schema used by `python -m bot.package`)."""
