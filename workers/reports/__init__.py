"""Reports people look at: self-contained HTML pages (inline CSS, inline SVG charts drawn by
matplotlib, no JavaScript, no external URL) that print on A4. The queries live in db/, the
shaping in core/; here the pages are rendered and written, each file whole or not at all."""
