// Search result snippets are cut from a page's HTML before MathJax runs, so they would show TeX source such as
// "\(E\)". Replace each math element's TeX by a plain-text reading (delimiters and markup dropped, common symbols as
// Unicode) before Sphinx's search makes the snippet.
(() => {
  const SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", Delta: "Δ", epsilon: "ε", varepsilon: "ε", eta: "η",
    theta: "θ", lambda: "λ", mu: "μ", nu: "ν", pi: "π", Pi: "Π", rho: "ρ", sigma: "σ", Sigma: "Σ", tau: "τ",
    phi: "φ", varphi: "φ", Phi: "Φ", psi: "ψ", omega: "ω", xi: "ξ", sum: "Σ", prod: "∏", int: "∫",
    le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠", approx: "≈", sim: "~", in: "∈", subset: "⊂",
    cdot: "·", times: "×", infty: "∞", to: "→", mapsto: "↦", rightarrow: "→", nabla: "∇", partial: "∂",
    mid: "|", lVert: "‖", rVert: "‖", Vert: "‖", lvert: "|", rvert: "|", langle: "⟨", rangle: "⟩",
    forall: "∀", exists: "∃", ldots: "…", dots: "…", cdots: "…", star: "⋆", circ: "∘", top: "⊤",
  };
  const DROP = /\\(mathcal|mathbb|mathrm|mathbf|mathsf|boldsymbol|operatorname|text|textrm|left|right|[bB]ig+[lr]?|displaystyle|limits|quad|qquad|tag|label|nonumber)\b/g;
  const plain = (tex) => tex
    .replace(/\\\\/g, " ")
    .replace(/\\[()[\]]|\$\$?/g, " ")
    .replace(/\\(begin|end)\{[^}]*\}(\{[^}]*\})?/g, " ")
    .replace(DROP, "")
    .replace(/\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}/g, "($1)/($2)")
    .replace(/\\[dt]?frac(\w)(\w)/g, "$1/$2")
    .replace(/\\[,;:! ]/g, " ")
    .replace(/\\([A-Za-z]+)/g, (_, name) => SYMBOLS[name] ?? name)
    .replace(/[{}&]/g, "")
    .replace(/\s+/g, " ")
    .trim();

  const install = () => {
    if (typeof Search === "undefined" || !Search.htmlToText || Search.htmlToText.mathAware) return;
    const original = Search.htmlToText;
    Search.htmlToText = (htmlString, anchor) => {
      const doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".math").forEach((el) => {
        const texts = doc.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let node = texts.nextNode(); node; node = texts.nextNode()) {
          if (!node.parentElement.closest(".eqno, .headerlink")) node.textContent = ` ${plain(node.textContent)} `;
        }
      });
      return original(doc.documentElement.outerHTML, anchor);
    };
    Search.htmlToText.mathAware = true;
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", install);
  else install();
})();
