"""Chapter 1: correct alternative implementations each check must accept, and planted bugs it must reject.

Each entry is the source of one function, as a student would write it in the notebook's solution cell.
"""

PARTS = {
    "bellman_expectation_backup": {
        "check": "check_bellman_expectation_backup",
        "alternatives": {
            "loops": '''
def bellman_expectation_backup(P, R, gamma, V, pi):
    n_actions, n_states, _ = P.shape
    out = np.zeros(n_states)
    for s in range(n_states):
        for a in range(n_actions):
            out[s] += pi[s, a] * (R[s, a] + gamma * sum(P[a, s, t] * V[t] for t in range(n_states)))
    return out
''',
            "policy_matrices": '''
def bellman_expectation_backup(P, R, gamma, V, pi):
    P_pi = np.einsum("sa,ast->st", pi, P)
    r_pi = (pi * R).sum(axis=1)
    return r_pi + gamma * P_pi @ V
''',
            "q_then_average": '''
def bellman_expectation_backup(P, R, gamma, V, pi):
    Q = R + gamma * (P @ V).T
    return np.sum(pi * Q, axis=1).tolist()
''',
        },
        "bugs": {
            "missing_gamma": '''
def bellman_expectation_backup(P, R, gamma, V, pi):
    Q = R + (P @ V).T
    return (pi * Q).sum(axis=1)
''',
            "max_over_next_states": '''
def bellman_expectation_backup(P, R, gamma, V, pi):
    Q = R + gamma * np.max(P * V[None, None, :], axis=2).T
    return (pi * Q).sum(axis=1)
''',
            "transposed_P": '''
def bellman_expectation_backup(P, R, gamma, V, pi):
    Q = R + gamma * (np.transpose(P, (0, 2, 1)) @ V).T
    return (pi * Q).sum(axis=1)
''',
            "max_instead_of_policy": '''
def bellman_expectation_backup(P, R, gamma, V, pi):
    Q = R + gamma * (P @ V).T
    return Q.max(axis=1)
''',
            "P_at_V_not_transposed": '''
def bellman_expectation_backup(P, R, gamma, V, pi):
    Q = R + gamma * (P @ V)
    return (pi * Q).sum(axis=1)
''',
            "sum_over_states": '''
def bellman_expectation_backup(P, R, gamma, V, pi):
    Q = R + gamma * (P @ V).T
    return (pi * Q).sum(axis=0)
''',
            "discounted_reward": '''
def bellman_expectation_backup(P, R, gamma, V, pi):
    Q = gamma * (R + (P @ V).T)
    return (pi * Q).sum(axis=1)
''',
        },
    },
    "policy_evaluation": {
        "check": "check_policy_evaluation",
        "alternatives": {
            "iterate_to_convergence": '''
def policy_evaluation(P, R, gamma, pi):
    P_pi = np.einsum("sa,ast->st", pi, P)
    r_pi = (pi * R).sum(axis=1)
    V = np.zeros(len(r_pi))
    while True:
        V_new = r_pi + gamma * P_pi @ V
        if np.max(np.abs(V_new - V)) < 1e-12:
            return V_new
        V = V_new
''',
            "inverse_matrix": '''
def policy_evaluation(P, R, gamma, pi):
    n = R.shape[0]
    P_pi = sum(pi[:, a:a + 1] * P[a] for a in range(P.shape[0]))
    r_pi = np.array([pi[s] @ R[s] for s in range(n)])
    return np.linalg.inv(np.eye(n) - gamma * P_pi) @ r_pi
''',
        },
        "bugs": {
            "missing_gamma": '''
def policy_evaluation(P, R, gamma, pi):
    P_pi = np.einsum("sa,ast->st", pi, P)
    r_pi = (pi * R).sum(axis=1)
    return np.linalg.lstsq(np.eye(len(r_pi)) - 0.999999 * P_pi, r_pi, rcond=None)[0]
''',
            "transposed_P": '''
def policy_evaluation(P, R, gamma, pi):
    P_pi = np.einsum("sa,ast->st", pi, P).T
    r_pi = (pi * R).sum(axis=1)
    return np.linalg.solve(np.eye(len(r_pi)) - gamma * P_pi, r_pi)
''',
            "too_few_iterations": '''
def policy_evaluation(P, R, gamma, pi):
    P_pi = np.einsum("sa,ast->st", pi, P)
    r_pi = (pi * R).sum(axis=1)
    V = np.zeros(len(r_pi))
    for _ in range(20):
        V = r_pi + gamma * P_pi @ V
    return V
''',
            "policy_ignored_in_reward": '''
def policy_evaluation(P, R, gamma, pi):
    P_pi = np.einsum("sa,ast->st", pi, P)
    r_pi = R.mean(axis=1)
    return np.linalg.solve(np.eye(len(r_pi)) - gamma * P_pi, r_pi)
''',
            "policy_ignored_in_dynamics": '''
def policy_evaluation(P, R, gamma, pi):
    P_pi = P.mean(axis=0)
    r_pi = (pi * R).sum(axis=1)
    return np.linalg.solve(np.eye(len(r_pi)) - gamma * P_pi, r_pi)
''',
            "one_backup_only": '''
def policy_evaluation(P, R, gamma, pi):
    return (pi * R).sum(axis=1)
''',
        },
    },
    "value_iteration": {
        "check": "check_value_iteration",
        "alternatives": {
            "per_state_loops": '''
def value_iteration(P, R, gamma, tol):
    n_actions, n_states, _ = P.shape
    V = [0.0] * n_states
    k = 0
    while True:
        k += 1
        V_new = [max(R[s, a] + gamma * float(np.dot(P[a, s], V)) for a in range(n_actions)) for s in range(n_states)]
        change = max(abs(x - y) for x, y in zip(V_new, V))
        V = V_new
        if change <= tol * (1 - gamma) / gamma:
            return np.array(V), k
''',
            "einsum_for_loop": '''
def value_iteration(P, R, gamma, tol):
    V = np.zeros(R.shape[0])
    for k in range(1, 1_000_000):
        V_next = (R + gamma * np.einsum("ast,t->sa", P, V)).max(axis=1)
        done = np.abs(V_next - V).max() < tol * (1 - gamma) / gamma
        V = V_next
        if done:
            break
    return V, k
''',
        },
        "bugs": {
            "off_by_one_count": '''
def value_iteration(P, R, gamma, tol):
    V = np.zeros(R.shape[0])
    k = 0
    while True:
        V_next = (R + gamma * (P @ V).T).max(axis=1)
        if np.abs(V_next - V).max() <= tol * (1 - gamma) / gamma:
            return V_next, k
        V = V_next
        k += 1
''',
            "stops_on_tol_alone": '''
def value_iteration(P, R, gamma, tol):
    V = np.zeros(R.shape[0])
    k = 0
    while True:
        k += 1
        V_next = (R + gamma * (P @ V).T).max(axis=1)
        if np.abs(V_next - V).max() <= tol:
            return V_next, k
        V = V_next
''',
            "missing_gamma_in_backup": '''
def value_iteration(P, R, gamma, tol):
    V = np.zeros(R.shape[0])
    for k in range(1, 10_000):
        V_next = (R + 0.5 * (P @ V).T).max(axis=1)
        if np.abs(V_next - V).max() <= tol * (1 - gamma) / gamma:
            return V_next, k
        V = V_next
    return V, k
''',
            "mean_over_actions": '''
def value_iteration(P, R, gamma, tol):
    V = np.zeros(R.shape[0])
    k = 0
    while True:
        k += 1
        V_next = (R + gamma * (P @ V).T).mean(axis=1)
        if np.abs(V_next - V).max() <= tol * (1 - gamma) / gamma:
            return V_next, k
        V = V_next
''',
            "P_at_V_not_transposed": '''
def value_iteration(P, R, gamma, tol):
    V = np.zeros(R.shape[0])
    k = 0
    while True:
        k += 1
        V_next = (R + gamma * (P @ V)).max(axis=1)
        if np.abs(V_next - V).max() <= tol * (1 - gamma) / gamma:
            return V_next, k
        V = V_next
''',
            "threshold_not_divided_by_gamma": '''
def value_iteration(P, R, gamma, tol):
    V = np.zeros(R.shape[0])
    k = 0
    while True:
        k += 1
        V_next = (R + gamma * (P @ V).T).max(axis=1)
        if np.abs(V_next - V).max() <= tol * (1 - gamma):
            return V_next, k
        V = V_next
''',
            "returns_the_previous_iterate": '''
def value_iteration(P, R, gamma, tol):
    V = np.zeros(R.shape[0])
    k = 0
    while True:
        k += 1
        V_next = (R + gamma * (P @ V).T).max(axis=1)
        if np.abs(V_next - V).max() <= tol * (1 - gamma) / gamma:
            return V, k
        V = V_next
''',
        },
    },
    "greedy_policy": {
        "check": "check_greedy_policy",
        "alternatives": {
            "loops_last_tie": '''
def greedy_policy(P, R, gamma, V):
    n_actions, n_states, _ = P.shape
    actions = []
    for s in range(n_states):
        q = [R[s, a] + gamma * P[a, s] @ V for a in range(n_actions)]
        actions.append(max(range(n_actions), key=lambda a: (q[a], a)))
    return np.array(actions)
''',
            "einsum_argmax": '''
def greedy_policy(P, R, gamma, V):
    return np.argmax(R + gamma * np.einsum("ast,t->sa", P, V), axis=1)
''',
        },
        "bugs": {
            "argmax_over_states": '''
def greedy_policy(P, R, gamma, V):
    Q = R + gamma * (P @ V).T
    return np.argmax(Q, axis=0)[: R.shape[0]] % R.shape[1]
''',
            "reward_ignored": '''
def greedy_policy(P, R, gamma, V):
    return np.argmax((P @ V).T, axis=1)
''',
            "argmin": '''
def greedy_policy(P, R, gamma, V):
    return np.argmin(R + gamma * (P @ V).T, axis=1)
''',
            "transposed_P": '''
def greedy_policy(P, R, gamma, V):
    return np.argmax(R + gamma * (np.transpose(P, (0, 2, 1)) @ V).T, axis=1)
''',
            "P_at_V_not_transposed": '''
def greedy_policy(P, R, gamma, V):
    return np.argmax(R + gamma * (P @ V), axis=1)
''',
            "gamma_ignored": '''
def greedy_policy(P, R, gamma, V):
    return np.argmax(R + (P @ V).T, axis=1)
''',
        },
    },
}
