"""Chapter 2: correct alternatives each check must accept, planted bugs it must reject."""

PARTS = {
    "refine_once": {
        "check": "check_refine_once",
        "alternatives": {
            "loops_with_isclose": '''
def refine_once(P, R, labels):
    blocks = sorted(set(labels.tolist()))
    mass = np.stack([P[:, :, labels == b].sum(axis=2) for b in blocks], axis=2)  # [A, S, K]
    n = len(labels)
    new, reps = [-1] * n, []
    for s in range(n):
        for k, t in enumerate(reps):
            if labels[s] == labels[t] and np.allclose(R[s], R[t], atol=1e-8, rtol=0) \\
                    and np.allclose(mass[:, s], mass[:, t], atol=1e-8, rtol=0):
                new[s] = k
                break
        else:
            reps.append(s)
            new[s] = len(reps) - 1
    return np.array(new)
''',
            "rounded_signatures": '''
def refine_once(P, R, labels):
    onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)   # [S, K]
    mass = np.einsum("ast,tk->sak", P, onehot).reshape(len(labels), -1)
    signature = np.round(np.concatenate([labels[:, None], R, mass], axis=1), 6)
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
''',
        },
        "bugs": {
            "total_mass_instead_of_per_block": '''
def refine_once(P, R, labels):
    total = P.sum(axis=2).T   # always 1: transitions never split a block
    signature = np.round(np.concatenate([labels[:, None], R, total], axis=1), 6)
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
''',
            "rewards_ignored": '''
def refine_once(P, R, labels):
    onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
    mass = np.einsum("ast,tk->sak", P, onehot).reshape(len(labels), -1)
    signature = np.round(np.concatenate([labels[:, None], mass], axis=1), 6)
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
''',
            "mass_per_state_not_block": '''
def refine_once(P, R, labels):
    mass = np.transpose(P, (1, 0, 2)).reshape(len(labels), -1)
    signature = np.round(np.concatenate([labels[:, None], R, mass], axis=1), 6)
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
''',
            "reward_rows_compared_by_their_sum": '''
def refine_once(P, R, labels):
    onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
    mass = np.einsum("ast,tk->sak", P, onehot).reshape(len(labels), -1)
    signature = np.round(np.concatenate([labels[:, None], R.sum(axis=1, keepdims=True), mass], axis=1), 6)
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
''',
            "mass_summed_over_actions": '''
def refine_once(P, R, labels):
    onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
    mass = np.einsum("ast,tk->sk", P, onehot)
    signature = np.round(np.concatenate([labels[:, None], R, mass], axis=1), 6)
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
''',
            "rounds_to_two_decimals": '''
def refine_once(P, R, labels):
    onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
    mass = np.einsum("ast,tk->sak", P, onehot).reshape(len(labels), -1)
    signature = np.round(np.concatenate([labels[:, None], R, mass], axis=1), 2)
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
''',
            "forgets_current_blocks": '''
def refine_once(P, R, labels):
    onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
    mass = np.einsum("ast,tk->sak", P, onehot).reshape(len(labels), -1)
    signature = np.round(np.concatenate([R, mass], axis=1), 6)
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
''',
        },
    },
    "bisimulation_partition": {
        "check": "check_bisimulation_partition",
        "alternatives": {
            "refine_until_stable": '''
def bisimulation_partition(P, R):
    labels = np.zeros(R.shape[0], dtype=int)
    while True:
        onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
        mass = np.einsum("ast,tk->sak", P, onehot).reshape(len(labels), -1)
        signature = np.round(np.concatenate([labels[:, None], R, mass], axis=1), 6)
        new = np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
        if len(np.unique(new)) == len(np.unique(labels)):
            return new
        labels = new
''',
            "pairwise_relation": '''
def bisimulation_partition(P, R):
    n = R.shape[0]
    same = np.all(np.abs(R[:, None, :] - R[None, :, :]) < 1e-8, axis=2)
    while True:
        classes = [np.flatnonzero(same[s]) for s in range(n)]
        mass = np.stack([P[:, :, c].sum(axis=2) for c in classes], axis=2)   # [A, S, S-as-classes]
        new = same.copy()
        for s in range(n):
            for t in range(n):
                if same[s, t]:
                    new[s, t] = np.allclose(mass[:, s, :], mass[:, t, :], atol=1e-8, rtol=0)
        new = new & new.T
        if np.array_equal(new, same):
            return np.argmax(same, axis=1)
        same = new
''',
        },
        "bugs": {
            "one_refinement_only": '''
def bisimulation_partition(P, R):
    labels = np.unique(np.round(R, 6), axis=0, return_inverse=True)[1].reshape(-1)
    onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
    mass = np.einsum("ast,tk->sak", P, onehot).reshape(len(labels), -1)
    signature = np.round(np.concatenate([labels[:, None], R, mass], axis=1), 6)
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
''',
            "rewards_never_used": '''
def bisimulation_partition(P, R):
    labels = np.zeros(R.shape[0], dtype=int)
    while True:
        onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
        mass = np.einsum("ast,tk->sak", P, onehot).reshape(len(labels), -1)
        signature = np.round(np.concatenate([labels[:, None], mass], axis=1), 6)
        new = np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
        if len(np.unique(new)) == len(np.unique(labels)):
            return new
        labels = new
''',
            "starts_from_the_finest_partition": '''
def bisimulation_partition(P, R):
    labels = np.arange(R.shape[0])
    while True:
        onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
        mass = np.einsum("ast,tk->sak", P, onehot).reshape(len(labels), -1)
        signature = np.round(np.concatenate([labels[:, None], R, mass], axis=1), 6)
        new = np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
        if len(np.unique(new)) == len(np.unique(labels)):
            return new
        labels = new
''',
            "reward_rows_compared_by_their_sum": '''
def bisimulation_partition(P, R):
    labels = np.zeros(R.shape[0], dtype=int)
    while True:
        onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
        mass = np.einsum("ast,tk->sak", P, onehot).reshape(len(labels), -1)
        signature = np.round(np.concatenate([labels[:, None], R.sum(axis=1, keepdims=True), mass], axis=1), 6)
        new = np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
        if len(np.unique(new)) == len(np.unique(labels)):
            return new
        labels = new
''',
            "rounds_to_two_decimals": '''
def bisimulation_partition(P, R):
    labels = np.zeros(R.shape[0], dtype=int)
    while True:
        onehot = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
        mass = np.einsum("ast,tk->sak", P, onehot).reshape(len(labels), -1)
        signature = np.round(np.concatenate([labels[:, None], R, mass], axis=1), 2)
        new = np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
        if len(np.unique(new)) == len(np.unique(labels)):
            return new
        labels = new
''',
            "identical_rows_only": '''
def bisimulation_partition(P, R):
    signature = np.round(np.concatenate([R, np.transpose(P, (1, 0, 2)).reshape(R.shape[0], -1)], axis=1), 6)
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
''',
        },
    },
    "quotient_mdp": {
        "check": "check_quotient_mdp",
        "alternatives": {
            "representative_loops": '''
def quotient_mdp(P, R, labels):
    K = labels.max() + 1
    A = P.shape[0]
    P_hat, R_hat = np.zeros((A, K, K)), np.zeros((K, A))
    for B in range(K):
        s = np.flatnonzero(labels == B)[0]
        R_hat[B] = R[s]
        for C in range(K):
            P_hat[:, B, C] = P[:, s, labels == C].sum(axis=1)
    return P_hat, R_hat
''',
            "average_over_members": '''
def quotient_mdp(P, R, labels):
    member = (labels[:, None] == np.arange(labels.max() + 1)[None, :]).astype(float)   # [S, K]
    weights = member / member.sum(axis=0)
    P_hat = np.einsum("sb,ast,tc->abc", weights, P, member)
    R_hat = weights.T @ R
    return P_hat, R_hat
''',
        },
        "bugs": {
            "next_state_not_summed_per_block": '''
def quotient_mdp(P, R, labels):
    K = labels.max() + 1
    reps = np.array([np.flatnonzero(labels == B)[0] for B in range(K)])
    P_hat = P[:, reps][:, :, reps]
    return P_hat, R[reps]
''',
            "rewards_summed_over_members": '''
def quotient_mdp(P, R, labels):
    member = (labels[:, None] == np.arange(labels.max() + 1)[None, :]).astype(float)
    weights = member / member.sum(axis=0)
    return np.einsum("sb,ast,tc->abc", weights, P, member), member.T @ R
''',
            "blocks_in_order_of_first_appearance": '''
def quotient_mdp(P, R, labels):
    _, first = np.unique(labels, return_index=True)
    reps = np.sort(first)
    blocks = [labels == labels[r] for r in reps]
    P_hat = np.stack([np.stack([P[:, r, C].sum(axis=1) for C in blocks], axis=1) for r in reps], axis=1)
    return P_hat, R[reps]
''',
            "P_hat_summed_over_members": '''
def quotient_mdp(P, R, labels):
    member = (labels[:, None] == np.arange(labels.max() + 1)[None, :]).astype(float)
    weights = member / member.sum(axis=0)
    return np.einsum("sb,ast,tc->abc", member, P, member), weights.T @ R
''',
            "transposed_P_hat": '''
def quotient_mdp(P, R, labels):
    member = (labels[:, None] == np.arange(labels.max() + 1)[None, :]).astype(float)
    weights = member / member.sum(axis=0)
    P_hat = np.einsum("sb,ast,tc->acb", weights, P, member)
    return P_hat, weights.T @ R
''',
        },
    },
}
