// Measurements of one rendered book page, run in the browser after MathJax has typeset it.
// Returns plain data; the Python test turns it into assertions. Nothing here changes the page.
() => {
  const main = document.querySelector("article.bd-article") || document.querySelector("main");
  const column = main.getBoundingClientRect();
  const describe = (el) => {
    const text = (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim();
    const id = el.id || (el.closest("[id]") || {}).id || "";
    return `<${el.tagName.toLowerCase()} class="${el.className}"> near #${id}: ${text.slice(0, 80)}`;
  };
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";

  // 1. MathJax: error boxes, and TeX left in visible prose (outside code, which may quote TeX on purpose).
  const mathErrors = [...main.querySelectorAll("mjx-merror, .MathJax_Error")].map(
    (el) => el.getAttribute("data-mjx-error") || el.textContent);
  const rawTex = [];
  const texPattern = /\\\(|\\\)|\\\[|\\\]|\$\$|\\(begin|end|frac|math[a-z]+|sum|gamma|lVert|le|ge|pi|mid)\b/;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("pre, code, script, style, mjx-container, textarea, .highlight")) continue;
    if (!visible(parent)) continue;
    const match = node.textContent.match(texPattern);
    if (match) rawTex.push(`${match[0]} in: ${node.textContent.trim().slice(0, 100)}`);
  }

  // 2. Images: loaded, with an alt text that describes them (not empty, not a file name or path).
  const images = [...main.querySelectorAll("img")].map((img) => ({
    src: img.getAttribute("src"),
    loaded: img.complete && img.naturalWidth > 0,
    alt: (img.getAttribute("alt") || "").trim(),
    scale: img.naturalWidth ? img.getBoundingClientRect().width / img.naturalWidth : 0,
  }));

  // 3. Width: a display equation, code block, output, table or figure either fits its column, or is itself a
  // scroll container (overflow-x auto/scroll) with a scroll bar and an edge shadow (a gradient background) that
  // show the reader there is more; nothing is cut silently.
  const blocks = main.querySelectorAll(
    "div.math, mjx-container[display='true'], div.highlight, div.highlight pre, div.cell_output pre, " +
    "div.output pre, table, figure, img, div.cell_output, .admonition, p");
  const tooWide = [];
  for (const el of blocks) {
    if (!visible(el)) continue;
    const box = el.getBoundingClientRect();
    const insideScroller = el.parentElement && el.parentElement.closest(
      "mjx-container, div.highlight pre, div.cell_output pre, div.text_html, .pst-scrollable-table-container");
    const scroller = insideScroller && scrolls(insideScroller) ? insideScroller : null;
    if (!scroller && (box.right > column.right + 1 || box.left < column.left - 1)) {
      tooWide.push(`sticks out of the column by ${Math.round(box.right - column.right)} px: ${describe(el)}`);
      continue;
    }
    if (el.scrollWidth > el.clientWidth + 1) {
      if (!scrolls(el)) {
        tooWide.push(`content ${el.scrollWidth - el.clientWidth} px wider than its box, cut: ${describe(el)}`);
      } else if (el.offsetHeight - el.clientHeight <= 0) {
        tooWide.push(`scrolls without a visible scroll bar: ${describe(el)}`);
      } else if (!getComputedStyle(el).backgroundImage.includes("gradient")) {
        tooWide.push(`scrolls without an edge shadow showing that content is cut: ${describe(el)}`);
      }
    }
  }

  // 4. The page as a whole never scrolls sideways.
  const pageWidth = document.documentElement.scrollWidth;
  return { mathErrors, rawTex, images, tooWide, pageWidth, viewport: window.innerWidth,
           hasMath: !!main.querySelector(".math"),
           mathjax: typeof window.MathJax === "object" && !!window.MathJax.startup };
}
