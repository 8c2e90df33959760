"""The benchmark suite behind ``make bench``: writes BENCHMARKS.md, its plots and a JSON of
every raw figure, all measured in one run on this machine.

    .venv/bin/python -m benchmarks            # the full suite (under 20 minutes on 2 cores)
    .venv/bin/python -m benchmarks --quick    # fewer shapes and rounds, to try changes
    .venv/bin/python -m benchmarks --from-json benchmarks/results/benchmarks.json
                                              # rewrite the report only, nothing measured

One module per job: ``machine`` (facts), ``models`` (the converted networks), ``layers``
and ``lce`` (single layers against XNNPACK and LCE's kernels), ``knn`` (Hamming k-NN
against the builtin graph and FAISS), ``fused`` (our fused ops alone: BgnnEdgeConv
against the float EdgeConv, BgnnEmbedPool), ``endtoend`` (whole networks, threads,
size and memory), ``qemu_count`` (aarch64 instruction counts), ``deploy`` (SSH
overhead), ``goals``, ``report`` and ``plots`` (the outputs), ``suite`` (the order of
it all). Every figure is a ratio or a count measured in the same run, with its spread
over interleaved rounds (``stats``).
"""
