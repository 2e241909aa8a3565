"""Benchmarks and reliability drills for Onebar.

Every figure is a ratio against a baseline measured beside it in the same run,
because the machine is shared and noisy; every load is bounded in time,
goes to ``localhost`` only and stops by itself. The load generator is wrk.

    python -m bench                  # all benchmarks; prints tables, rewrites BENCHMARKS.md
    python -m bench --quick          # one short round each (a smoke run, ~1 min)
    python -m bench --only me,scale  # some of: me, profile, middleware, browser, scale
    python -m bench.drill            # the reliability drill (about 5 minutes)
"""
