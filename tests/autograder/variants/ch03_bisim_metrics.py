"""Chapter 3: correct alternatives each check must accept, planted bugs it must reject."""

_W1_LINPROG = '''
from scipy.optimize import linprog

def wasserstein1(p, q, D):
    n = len(p)
    rows = np.kron(np.eye(n), np.ones((1, n)))
    cols = np.kron(np.ones((1, n)), np.eye(n))
    result = linprog(D.reshape(-1), A_eq=np.vstack([rows, cols]), b_eq=np.concatenate([p, q]),
                     bounds=(0, None), method="highs")
    return result.fun
'''

_UPDATE = '''
import ot

def ferns_update(P, R, gamma, d):
    A, S, _ = P.shape
    out = np.zeros((S, S))
    for s in range(S):
        for t in range(S):
            out[s, t] = max((1 - gamma) * abs(R[s, a] - R[t, a]) + gamma * ot.emd2(P[a, s], P[a, t], d)
                            for a in range(A))
    return out
'''

PARTS = {
    "wasserstein1": {
        "check": "check_wasserstein1",
        "alternatives": {
            "linprog": _W1_LINPROG,
            "pot": '''
import ot

def wasserstein1(p, q, D):
    return float(ot.emd2(p, q, D))
''',
            "coupling_then_cost": '''
import ot

def wasserstein1(p, q, D):
    G = ot.emd(p / p.sum(), q / q.sum(), D)
    return np.sum(G * D)
''',
        },
        "bugs": {
            "total_variation_times_max_cost": '''
def wasserstein1(p, q, D):
    return 0.5 * np.abs(p - q).sum() * D.max()
''',
            "independent_coupling": '''
def wasserstein1(p, q, D):
    return p @ D @ q
''',
            "arguments_swapped": '''
import ot

def wasserstein1(p, q, D):
    return float(ot.emd2(q, p, D))
''',
            "cost_transposed": _W1_LINPROG.replace("linprog(D.reshape(-1)", "linprog(D.T.reshape(-1)"),
            "common_mass_stays_in_place_for_free": '''
import ot

def wasserstein1(p, q, D):
    common = np.minimum(p, q)
    rest_p, rest_q = p - common, q - common
    if rest_p.sum() < 1e-12:
        return 0.0
    return float(ot.emd2(rest_p / rest_p.sum(), rest_q / rest_q.sum(), D)) * rest_p.sum()
''',
            "one_dimensional_cdf_formula": '''
def wasserstein1(p, q, D):
    return np.abs(np.cumsum(p) - np.cumsum(q)).sum()
''',
        },
    },
    "ferns_update": {
        "check": "check_ferns_update",
        "alternatives": {
            "pot_all_pairs": _UPDATE,
            "linprog_symmetric": _W1_LINPROG + '''
def ferns_update(P, R, gamma, d):
    A, S, _ = P.shape
    out = np.zeros((S, S))
    for s in range(S):
        for t in range(s + 1, S):
            values = [(1 - gamma) * abs(R[s, a] - R[t, a]) + gamma * wasserstein1(P[a, s], P[a, t], d)
                      for a in range(A)]
            out[s, t] = out[t, s] = max(values)
    return out
''',
        },
        "bugs": {
            "max_over_actions_dropped": _UPDATE.replace("max((1 - gamma)", "np.mean([(1 - gamma)").replace(
                "for a in range(A))", "for a in range(A)])"),
            "unnormalised_weights": _UPDATE.replace("(1 - gamma) * abs", "abs"),
            "max_over_actions_taken_separately": '''
import ot

def ferns_update(P, R, gamma, d):
    A, S, _ = P.shape
    out = np.zeros((S, S))
    for s in range(S):
        for t in range(S):
            out[s, t] = ((1 - gamma) * max(abs(R[s, a] - R[t, a]) for a in range(A))
                         + gamma * max(ot.emd2(P[a, s], P[a, t], d) for a in range(A)))
    return out
''',
            "reward_difference_not_absolute": _UPDATE.replace("abs(R[s, a] - R[t, a])", "(R[s, a] - R[t, a])"),
            "weights_swapped": _UPDATE.replace("(1 - gamma) * abs(R[s, a] - R[t, a]) + gamma * ot",
                                               "gamma * abs(R[s, a] - R[t, a]) + (1 - gamma) * ot"),
        },
    },
    "bisimulation_metric": {
        "check": "check_bisimulation_metric",
        "alternatives": {
            "iterate_with_pot": _UPDATE + '''
def bisimulation_metric(P, R, gamma, tol):
    d = np.zeros((R.shape[0], R.shape[0]))
    while True:
        d_new = ferns_update(P, R, gamma, d)
        if np.abs(d_new - d).max() <= tol * (1 - gamma) / gamma:
            return d_new
        d = d_new
''',
            "iterate_to_machine_precision": _W1_LINPROG + '''
def bisimulation_metric(P, R, gamma, tol):
    A, S, _ = P.shape
    d = np.zeros((S, S))
    for _ in range(200):
        d_new = np.zeros((S, S))
        for s in range(S):
            for t in range(s + 1, S):
                d_new[s, t] = d_new[t, s] = max(
                    (1 - gamma) * abs(R[s, a] - R[t, a]) + gamma * wasserstein1(P[a, s], P[a, t], d)
                    for a in range(A))
        if np.abs(d_new - d).max() < 1e-10:
            break
        d = d_new
    return d_new
''',
        },
        "bugs": {
            "ground_cost_frozen_at_initial_metric": _UPDATE + '''
def bisimulation_metric(P, R, gamma, tol):
    d0 = np.zeros((R.shape[0], R.shape[0]))
    d = d0
    while True:
        d_new = ferns_update(P, R, gamma, d0)
        if np.abs(d_new - d).max() <= tol * (1 - gamma) / gamma:
            return d_new
        d = d_new
''',
            "stops_after_three_iterations": _UPDATE + '''
def bisimulation_metric(P, R, gamma, tol):
    d = np.zeros((R.shape[0], R.shape[0]))
    for _ in range(3):
        d = ferns_update(P, R, gamma, d)
    return d
''',
            "stops_on_tol_without_contraction_factor": _UPDATE + '''
def bisimulation_metric(P, R, gamma, tol):
    d = np.zeros((R.shape[0], R.shape[0]))
    while True:
        d_new = ferns_update(P, R, gamma, d)
        if np.abs(d_new - d).max() <= 100 * tol:
            return d_new
        d = d_new
''',
            "weights_swapped": _UPDATE.replace("(1 - gamma) * abs(R[s, a] - R[t, a]) + gamma * ot",
                                               "gamma * abs(R[s, a] - R[t, a]) + (1 - gamma) * ot") + '''
def bisimulation_metric(P, R, gamma, tol):
    d = np.zeros((R.shape[0], R.shape[0]))
    while True:
        d_new = ferns_update(P, R, gamma, d)
        if np.abs(d_new - d).max() <= tol * (1 - gamma) / gamma:
            return d_new
        d = d_new
''',
            "max_dropped": _UPDATE.replace("max((1 - gamma)", "np.mean([(1 - gamma)").replace(
                "for a in range(A))", "for a in range(A)])") + '''
def bisimulation_metric(P, R, gamma, tol):
    d = np.zeros((R.shape[0], R.shape[0]))
    while True:
        d_new = ferns_update(P, R, gamma, d)
        if np.abs(d_new - d).max() <= tol * (1 - gamma) / gamma:
            return d_new
        d = d_new
''',
        },
    },
    "mico_distance": {
        "check": "check_mico_distance",
        "alternatives": {
            "lyapunov": '''
from scipy.linalg import solve_discrete_lyapunov

def mico_distance(P_pi, r_pi, gamma):
    C = np.abs(r_pi[:, None] - r_pi[None, :])
    return solve_discrete_lyapunov(np.sqrt(gamma) * P_pi, C)
''',
            "kronecker_linear_system": '''
def mico_distance(P_pi, r_pi, gamma):
    n = len(r_pi)
    C = np.abs(r_pi[:, None] - r_pi[None, :])
    U = np.linalg.solve(np.eye(n * n) - gamma * np.kron(P_pi, P_pi), C.reshape(-1))
    return U.reshape(n, n)
''',
            "fixed_point_iteration": '''
def mico_distance(P_pi, r_pi, gamma):
    C = np.abs(r_pi[:, None] - r_pi[None, :])
    U = np.zeros_like(C)
    while True:
        U_new = C + gamma * P_pi @ U @ P_pi.T
        if np.abs(U_new - U).max() < 1e-12:
            return U_new
        U = U_new
''',
        },
        "bugs": {
            "transposed_dynamics": '''
from scipy.linalg import solve_discrete_lyapunov

def mico_distance(P_pi, r_pi, gamma):
    C = np.abs(r_pi[:, None] - r_pi[None, :])
    return solve_discrete_lyapunov(np.sqrt(gamma) * P_pi.T, C)
''',
            "diagonal_forced_to_zero": '''
from scipy.linalg import solve_discrete_lyapunov

def mico_distance(P_pi, r_pi, gamma):
    C = np.abs(r_pi[:, None] - r_pi[None, :])
    U = solve_discrete_lyapunov(np.sqrt(gamma) * P_pi, C)
    return U - np.diag(np.diag(U))
''',
            "squared_reward_difference": '''
from scipy.linalg import solve_discrete_lyapunov

def mico_distance(P_pi, r_pi, gamma):
    C = (r_pi[:, None] - r_pi[None, :]) ** 2
    return solve_discrete_lyapunov(np.sqrt(gamma) * P_pi, C)
''',
            "signed_reward_difference": '''
from scipy.linalg import solve_discrete_lyapunov

def mico_distance(P_pi, r_pi, gamma):
    C = r_pi[:, None] - r_pi[None, :]
    return solve_discrete_lyapunov(np.sqrt(gamma) * P_pi, C)
''',
            "one_step_only": '''
def mico_distance(P_pi, r_pi, gamma):
    C = np.abs(r_pi[:, None] - r_pi[None, :])
    return C + gamma * P_pi @ C @ P_pi.T
''',
            "right_factor_not_transposed": '''
def mico_distance(P_pi, r_pi, gamma):
    n = len(r_pi)
    C = np.abs(r_pi[:, None] - r_pi[None, :])
    U = np.linalg.solve(np.eye(n * n) - gamma * np.kron(P_pi, P_pi.T), C.reshape(-1))
    return U.reshape(n, n)
''',
            "missing_discount": '''
from scipy.linalg import solve_discrete_lyapunov

def mico_distance(P_pi, r_pi, gamma):
    C = np.abs(r_pi[:, None] - r_pi[None, :])
    return solve_discrete_lyapunov(0.999 * P_pi, C)
''',
        },
    },
}
