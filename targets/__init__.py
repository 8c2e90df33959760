"""Everything about boards, installed as ``bgnn_deploy.targets``.

Board profiles as data, the SSH/local transport, the toolchain and the C runner's
sources. Built in the runner and run issues; nothing here yet.
"""
