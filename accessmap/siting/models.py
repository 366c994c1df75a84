"""Site-selection models on a coverage matrix: MCLP (exact MILP and lazy greedy) and LSCP.

All models work on a boolean matrix ``cover[c, j]`` (candidate ``c`` covers demand
column ``j``) and a weight per column.  Existing facilities are fixed: the demand given
here is only the demand they leave uncovered, so every objective is *newly* covered
weight.

* :func:`reduce_instance` drops columns no candidate covers and merges columns covered by
  exactly the same candidates (summing their weights): the optimum is unchanged and the
  MILP becomes small.
* :func:`lazy_greedy` adds, at each step, the candidate with the largest newly covered
  weight, re-evaluating only candidates whose stale gain could still win (gains only
  shrink: the objective is submodular).  Greedy is within ``1 - 1/e`` of the optimum.
* :func:`solve_mclp` is the maximal covering location problem as a MILP (PuLP with CBC
  or HiGHS).
* :func:`select_sites` picks exact or greedy, falls back to greedy when the solver is
  missing, fails or times out, and reports which model was used and the gap.
* :func:`minimum_sites` is the location set covering variant with a coverage target.

Each model is a class in the spirit of spopt's ``MCLP.from_cost_matrix(...).solve()``:
:class:`GreedyMCLP`, :class:`ExactMCLP` and :class:`LSCP` share :class:`SitingModel`
(built on a :class:`ReducedInstance`, or :meth:`SitingModel.from_coverage` on a raw
coverage matrix; :meth:`SitingModel.solve` returns the model's result).
:func:`select_sites` and :func:`minimum_sites` are thin functions over them.

Examples
--------
>>> cover = scipy.sparse.csr_array(np.array([[1, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
>>> GreedyMCLP.from_coverage(cover, np.array([5.0, 1.0, 2.0]), k=1).solve().chosen.tolist()
[0]
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse
from numpy.typing import NDArray

from accessmap.errors import InputDataError
from accessmap.progress import Tick, scaled
from accessmap.siting._greedy import (
    ReducedInstance,
    covered_weight,
    lazy_greedy,
    order_by_gain,
    reduce_instance,
)

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "LSCP", "METHODS", "SOLVERS", "ExactMCLP", "GreedyMCLP", "ReducedInstance", "Selection",
    "SitingModel", "SolverOutcome", "TargetResult", "covered_weight", "lazy_greedy",
    "marginal_gain_table", "minimum_sites", "order_by_gain", "reduce_instance",
    "select_sites", "solve_mclp",
]

logger = logging.getLogger(__name__)


SOLVERS = ("cbc", "highs")


METHODS = ("auto", "exact", "greedy")


@dataclass(frozen=True)
class SolverOutcome:
    """What a MILP solve (or the greedy) returned: ``chosen`` is None when unsolved."""

    chosen: NDArray[np.int64] | None
    objective: float | None
    status: str
    seconds: float


def _pulp_solver(solver: str, time_limit_s: float | None) -> Any:
    import pulp

    if solver not in SOLVERS:
        raise InputDataError(f"solver {solver!r} is unknown; use one of {', '.join(SOLVERS)}")
    cls = pulp.PULP_CBC_CMD if solver == "cbc" else pulp.HiGHS
    options: dict[str, Any] = {"msg": False}
    if time_limit_s is not None:
        options["timeLimit"] = float(time_limit_s)
    return cls(**options)


def _solve(problem: Any, solver: str, time_limit_s: float | None,
           x: list[Any]) -> SolverOutcome:
    import pulp

    start = time.perf_counter()
    backend = _pulp_solver(solver, time_limit_s)
    if not backend.available():
        return SolverOutcome(None, None, f"solver {solver} is not available", 0.0)
    try:
        problem.solve(backend)
    except pulp.PulpSolverError as err:
        return SolverOutcome(None, None, f"solver {solver} failed: {err}",
                             time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if problem.status != pulp.LpStatusOptimal or problem.sol_status != pulp.LpSolutionOptimal:
        if time_limit_s is not None and seconds >= 0.95 * time_limit_s:
            status = f"time limit of {time_limit_s:g} s reached before a proven optimum"
        else:
            status = f"solver {solver} status {pulp.LpStatus[problem.status].lower()}"
        return SolverOutcome(None, None, status, seconds)
    chosen = np.flatnonzero([(v.value() or 0.0) > 0.5 for v in x]).astype(np.int64)
    return SolverOutcome(chosen, float(pulp.value(problem.objective) or 0.0), "optimal",
                         seconds)


def _covering_model(instance: ReducedInstance, sense: int, name: str) -> tuple[Any, list[Any],
                                                                              list[Any]]:
    """Binary ``x`` per candidate, ``0 <= y_j <= sum_{c covers j} x_c`` per demand group."""
    import pulp

    problem = pulp.LpProblem(name, sense)
    x = [pulp.LpVariable(f"x{c}", cat="Binary") for c in range(instance.n_candidates)]
    y = [pulp.LpVariable(f"y{j}", lowBound=0, upBound=1) for j in range(instance.weights.size)]
    csc = instance.matrix.tocsc()
    for j in range(instance.weights.size):
        rows = csc.indices[csc.indptr[j]: csc.indptr[j + 1]]
        problem += y[j] <= pulp.lpSum(x[int(c)] for c in rows)
    return problem, x, y


def _check_choices(method: str, solver: str) -> None:
    if method not in METHODS:
        raise InputDataError(f"siting method {method!r} is unknown; use one of "
                             + ", ".join(METHODS))
    if solver not in SOLVERS:
        raise InputDataError(f"solver {solver!r} is unknown; use one of {', '.join(SOLVERS)}")


_Result = TypeVar("_Result")


class SitingModel(ABC, Generic[_Result]):
    """A site-selection model on a coverage instance: build it, then :meth:`solve`.

    Subclasses take the instance first and their own settings as keywords, and say
    what :meth:`solve` returns.  A new model is one subclass.
    """

    #: Short name of the model (``Selection.model``, logs).
    name: ClassVar[str]

    def __init__(self, instance: ReducedInstance) -> None:
        self.instance = instance

    @classmethod
    def from_coverage(
        cls,
        matrix: scipy.sparse.sparray,
        weights: NDArray[np.float64],
        population: NDArray[np.float64] | None = None,
        **settings: Any,
    ) -> Self:
        """Build the model on a raw coverage matrix (reduced with :func:`reduce_instance`).

        The counterpart of spopt's ``from_cost_matrix``: ``matrix[c, j]`` is truthy
        when candidate ``c`` covers demand column ``j``; ``settings`` are the model's
        keyword arguments (``k=...``, ``target_population=...``, ``solver=...``).
        """
        return cls(reduce_instance(matrix, weights, population), **settings)

    @abstractmethod
    def solve(self, *, tick: Tick | None = None) -> _Result:
        """Solve the model; ``tick(fraction, message)`` reports progress (ends at 1.0)."""


class GreedyMCLP(SitingModel[SolverOutcome]):
    """Maximal covering by the lazy greedy (within ``1 - 1/e`` of the optimum).

    ``solve`` returns the sites in the order chosen (stopping early when no candidate
    adds weight), their covered weight, status ``"greedy"`` and the time taken.
    """

    name = "greedy"

    def __init__(self, instance: ReducedInstance, *, k: int,
                 progress: Callable[[int, int], None] | None = None) -> None:
        super().__init__(instance)
        self.k, self.progress = k, progress

    def solve(self, *, tick: Tick | None = None) -> SolverOutcome:
        """Run :func:`lazy_greedy` on the instance's weights."""
        start = time.perf_counter()
        chosen, _ = lazy_greedy(self.instance.matrix, self.instance.weights, self.k,
                                progress=self.progress, tick=tick)
        objective = covered_weight(self.instance.matrix, self.instance.weights, chosen)
        return SolverOutcome(chosen, objective, "greedy", time.perf_counter() - start)


class ExactMCLP(SitingModel[SolverOutcome]):
    """Maximal covering location problem as a MILP (PuLP with CBC or HiGHS).

    maximise ``sum_j w_j y_j`` subject to ``y_j <= sum_{c covers j} x_c``,
    ``sum_c x_c = k``, ``x`` binary, ``0 <= y <= 1`` (integral at the optimum since the
    weights are non-negative).  ``solve`` returns a :class:`SolverOutcome` whose
    ``chosen`` is None when no proven optimum was found (``status`` says why).
    """

    name = "exact"

    def __init__(self, instance: ReducedInstance, *, k: int, solver: str = "cbc",
                 time_limit_s: float | None = 60.0) -> None:
        super().__init__(instance)
        self.k, self.solver, self.time_limit_s = k, solver, time_limit_s

    def solve(self, *, tick: Tick | None = None) -> SolverOutcome:
        """Build and solve the MILP (ticks before and after the solver)."""
        import pulp

        instance = self.instance
        if tick is not None:
            tick(0.0, f"exact MCLP: {instance.n_candidates} candidates")
        problem, x, y = _covering_model(instance, pulp.LpMaximize, "mclp")
        problem += pulp.lpSum(float(w) * v for w, v in zip(instance.weights, y, strict=True))
        problem += pulp.lpSum(x) == min(self.k, instance.n_candidates)
        outcome = _solve(problem, self.solver, self.time_limit_s, x)
        if tick is not None:
            tick(1.0, f"exact MCLP: {outcome.status}")
        return outcome


def solve_mclp(
    instance: ReducedInstance,
    k: int,
    *,
    solver: str = "cbc",
    time_limit_s: float | None = 60.0,
) -> SolverOutcome:
    """Maximal covering location problem as a MILP (:class:`ExactMCLP`).

    Returns
    -------
    SolverOutcome
        ``chosen`` is None when no proven optimum was found (status says why).
    """
    return ExactMCLP(instance, k=k, solver=solver, time_limit_s=time_limit_s).solve()


@dataclass(frozen=True, eq=False)
class Selection:
    """Chosen sites and how they were chosen.

    Attributes
    ----------
    chosen
        Candidate rows in rank order (each next site adds the most given those above).
    gain_weight, gain_population
        Per chosen site, the newly covered weight and population given the sites above.
    model
        ``"exact"`` (MILP optimum) or ``"greedy"``.
    objective
        Covered weight of the chosen set.
    greedy_objective
        Covered weight of the greedy set (always computed).
    gap
        ``(exact - greedy) / exact`` when the exact optimum is known, else None.
    solver_status
        Solver outcome (``"optimal"``, ``"not run"``, or why it failed).
    notes
        Messages for the planner (fallbacks, k too large).
    """

    chosen: NDArray[np.int64]
    gain_weight: NDArray[np.float64]
    gain_population: NDArray[np.float64]
    model: str
    objective: float
    greedy_objective: float
    gap: float | None
    solver_status: str
    solver_seconds: float | None
    notes: list[str] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """JSON-ready description of the model run (summary key ``siting``)."""
        return {
            "model": self.model, "objective": round(self.objective, 3),
            "greedy_objective": round(self.greedy_objective, 3),
            "gap": None if self.gap is None else round(self.gap, 6),
            "solver_status": self.solver_status,
            "solver_seconds": None if self.solver_seconds is None
            else round(self.solver_seconds, 3),
            "notes": list(self.notes),
        }


def select_sites(
    instance: ReducedInstance,
    k: int,
    *,
    method: str = "auto",
    exact_max_candidates: int = 2000,
    solver: str = "cbc",
    time_limit_s: float | None = 60.0,
    progress: Callable[[int, int], None] | None = None,
    tick: Tick | None = None,
) -> Selection:
    """Choose ``k`` new sites maximising newly covered weight.

    Parameters
    ----------
    instance
        Reduced coverage instance (:func:`reduce_instance`).
    k
        Number of new sites (>= 0).
    method : {"auto", "exact", "greedy"}
        ``auto`` solves exactly when the instance has at most ``exact_max_candidates``
        candidates, else greedy; ``exact`` always tries the MILP.
    exact_max_candidates
        Size limit for ``auto``.
    solver : {"cbc", "highs"}
        MILP solver (through PuLP).
    time_limit_s
        Solver time limit; on timeout the greedy solution is used, with a note.
    progress
        Called with (sites chosen, k) during the greedy (kept for old callers; prefer
        ``tick``).
    tick
        Progress callback ``tick(fraction, message)``: the greedy, then before and after
        the MILP, 1.0 at the end; whatever it raises (``Cancelled``) propagates.

    Raises
    ------
    InputDataError
        ``k`` is negative, the method or solver is unknown, or there are no candidates.
    """
    if not isinstance(k, int | np.integer) or k < 0:
        raise InputDataError(f"number of new sites is {k!r}; it must be a whole number >= 0")
    _check_choices(method, solver)
    if instance.n_candidates == 0:
        raise InputDataError(
            "there are no candidate sites (after exclusion areas and the minimum distance "
            "from existing facilities); relax those settings or give a candidates file"
        )
    notes: list[str] = []
    if k > instance.n_candidates:
        notes.append(f"asked for {k} new sites but there are only {instance.n_candidates} "
                     f"candidates; choosing at most {instance.n_candidates}")
    want_exact = method == "exact" or (
        method == "auto" and instance.n_candidates <= exact_max_candidates)
    greedy_share = 0.2 if want_exact and k > 0 else 0.9

    greedy_outcome = GreedyMCLP(instance, k=k, progress=progress).solve(
        tick=scaled(tick, 0.0, greedy_share))
    greedy = greedy_outcome.chosen
    assert greedy is not None  # the greedy always answers
    greedy_obj = float(greedy_outcome.objective or 0.0)
    if greedy.size < min(k, instance.n_candidates):
        notes.append(f"only {greedy.size} candidate(s) add newly covered people; the other "
                     "requested sites would add no one and are not recommended")
    chosen, model, objective, gap, status, seconds = greedy, "greedy", greedy_obj, None, \
        "not run", None
    if method == "auto" and not want_exact:
        notes.append(f"{instance.n_candidates} candidates exceed exact_max_candidates="
                     f"{exact_max_candidates}; used the greedy (within 1-1/e of optimum)")
    if want_exact and k > 0 and greedy.size > 0:
        outcome = ExactMCLP(instance, k=k, solver=solver, time_limit_s=time_limit_s).solve(
            tick=scaled(tick, greedy_share, 0.9))
        status, seconds = outcome.status, outcome.seconds
        if outcome.chosen is None:
            notes.append(f"exact MCLP not solved ({outcome.status}); fell back to the "
                         "greedy solution")
            logger.warning("exact MCLP not solved (%s); using greedy", outcome.status)
        else:
            exact_obj = covered_weight(instance.matrix, instance.weights, outcome.chosen)
            useful = outcome.chosen
            chosen, model, objective = useful, "exact", exact_obj
            gap = (exact_obj - greedy_obj) / exact_obj if exact_obj > 0 else 0.0
    chosen, gain_w = order_by_gain(instance.matrix, instance.weights, chosen)
    keep = gain_w > 0
    chosen, gain_w = chosen[keep], gain_w[keep]
    gain_p = _gains_for(instance.matrix, instance.population, chosen)
    if tick is not None:
        tick(1.0, f"{model}: {chosen.size} sites")
    return Selection(chosen, gain_w, gain_p, model, objective, greedy_obj, gap, status,
                     seconds, notes)


def _gains_for(
    matrix: scipy.sparse.sparray, values: NDArray[np.float64], chosen: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Newly covered ``values`` of each site given the sites before it."""
    csr = scipy.sparse.csr_array(matrix, dtype=bool)
    remaining = np.asarray(values, dtype=np.float64).copy()
    out = np.zeros(chosen.size)
    for i, cand in enumerate(chosen):
        cols = csr.indices[csr.indptr[cand]: csr.indptr[cand + 1]]
        out[i] = remaining[cols].sum()
        remaining[cols] = 0.0
    return out


@dataclass(frozen=True, eq=False)
class TargetResult:
    """Answer of the location set covering problem with a coverage target.

    Attributes
    ----------
    feasible
        Whether any candidate set reaches the target.
    chosen
        Candidate rows of a smallest set reaching the target (ranked by gain); when
        infeasible, every useful candidate.
    n_sites
        ``chosen.size`` when feasible, else None.
    target_population
        Newly covered population the target needs.
    reachable_population
        Newly covered population with all candidates opened.
    model, solver_status, message
        How it was solved, and a sentence for the planner.
    """

    feasible: bool
    chosen: NDArray[np.int64]
    n_sites: int | None
    target_population: float
    reachable_population: float
    model: str
    solver_status: str
    message: str


class LSCP(SitingModel[TargetResult]):
    """Location set covering with a coverage target: fewest new sites that newly cover
    at least ``target_population`` people.

    Exact as a MILP (minimise ``sum x`` subject to ``sum_j p_j y_j >= target``,
    ``y_j <= sum_{c covers j} x_c``); greedy (add best site until the target is met)
    when ``method="greedy"``, the instance is too large for ``"auto"``, or the solver
    fails.  When even all candidates together fall short, the result says so and gives
    the best reachable population.  ``solve`` returns a :class:`TargetResult`.
    """

    name = "lscp"

    def __init__(self, instance: ReducedInstance, *, target_population: float,
                 method: str = "auto", exact_max_candidates: int = 2000, solver: str = "cbc",
                 time_limit_s: float | None = 60.0) -> None:
        super().__init__(instance)
        _check_choices(method, solver)
        self.target_population = target_population
        self.method, self.exact_max_candidates = method, exact_max_candidates
        self.solver, self.time_limit_s = solver, time_limit_s

    def solve(self, *, tick: Tick | None = None) -> TargetResult:
        """Greedy first (0 to 0.5), then the MILP when wanted, 1.0 at the end."""
        import pulp

        instance = self.instance
        target = max(float(self.target_population), 0.0)
        all_rows = np.arange(instance.n_candidates)
        reachable = covered_weight(instance.matrix, instance.population, all_rows)

        half = scaled(tick, 0.0, 0.5)
        if target > reachable * (1 + 1e-9) + 1e-9:
            useful, _ = lazy_greedy(instance.matrix, instance.population,
                                    instance.n_candidates, tick=half)
            if tick is not None:
                tick(1.0, "coverage target out of reach")
            return TargetResult(
                False, useful, None, target, reachable, "none", "not run",
                f"no set of candidate sites reaches the target: it needs {target:,.0f} more "
                f"people covered but all {instance.n_candidates} candidates together add "
                f"only {reachable:,.0f}",
            )
        greedy, gains = lazy_greedy(instance.matrix, instance.population,
                                    instance.n_candidates, tick=half)
        need = int(np.searchsorted(np.cumsum(gains), target * (1 - 1e-12))) + 1 \
            if target > 0 else 0
        chosen, model, status = greedy[:need], "greedy", "not run"
        if target > 0 and (self.method == "exact" or (
                self.method == "auto" and instance.n_candidates <= self.exact_max_candidates)):
            if tick is not None:
                tick(0.5, "exact set covering")
            problem, x, y = _covering_model(instance, pulp.LpMinimize, "lscp_target")
            problem += pulp.lpSum(x)
            problem += pulp.lpSum(float(p) * v for p, v in zip(instance.population, y,
                                                             strict=True)) >= target
            outcome = _solve(problem, self.solver, self.time_limit_s, x)
            status = outcome.status
            if outcome.chosen is not None and covered_weight(
                    instance.matrix, instance.population, outcome.chosen) >= target * (1 - 1e-9):
                chosen, model = outcome.chosen, "exact"
            else:
                logger.warning("exact set covering not solved (%s); using greedy", status)
        chosen, _ = order_by_gain(instance.matrix, instance.population, chosen)
        if tick is not None:
            tick(1.0, f"{model}: {chosen.size} sites reach the target")
        return TargetResult(
            True, chosen, int(chosen.size), target, reachable, model, status,
            f"{chosen.size} new site(s) reach the target ({target:,.0f} more people covered)",
        )


def minimum_sites(
    instance: ReducedInstance,
    target_population: float,
    *,
    method: str = "auto",
    exact_max_candidates: int = 2000,
    solver: str = "cbc",
    time_limit_s: float | None = 60.0,
    tick: Tick | None = None,
) -> TargetResult:
    """Fewest new sites that newly cover at least ``target_population`` people.

    A thin function over :class:`LSCP` (see there for the model); ``tick(fraction,
    message)`` reports progress and whatever it raises (``Cancelled``) propagates.
    """
    return LSCP(instance, target_population=target_population, method=method,
                exact_max_candidates=exact_max_candidates, solver=solver,
                time_limit_s=time_limit_s).solve(tick=tick)


def marginal_gain_table(
    gain_population: NDArray[np.float64],
    *,
    covered_before: float,
    population_total: float,
) -> pd.DataFrame:
    """The curve planners put in documents: coverage after 1..k sites.

    Returns
    -------
    pandas.DataFrame
        ``sites`` (1..k), ``added_population`` (by the k-th site), ``cumulative_added``,
        ``covered_population`` (existing facilities plus the first k sites) and
        ``cumulative_share`` (of the total population).
    """
    gains = np.asarray(gain_population, dtype=np.float64)
    cumulative = np.cumsum(gains)
    covered = covered_before + cumulative
    share = covered / population_total if population_total > 0 else np.zeros_like(covered)
    return pd.DataFrame({
        "sites": np.arange(1, gains.size + 1, dtype=np.int64),
        "added_population": gains,
        "cumulative_added": cumulative,
        "covered_population": covered,
        "cumulative_share": share,
    })
