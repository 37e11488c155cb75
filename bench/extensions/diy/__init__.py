"""The benchmark's DIY integration: the hooks in ``hooks.py`` (mirrored in ``../../node/diy.js``)."""
