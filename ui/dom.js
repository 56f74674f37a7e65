// Small DOM helpers: elements are built with the DOM API (no innerHTML, no inline styles),
// which keeps the page inside its Content-Security-Policy and safe from markup in data.

const SVG = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h('button', {class: 'primary', onclick: f}, 'Approve'). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

/** Replaces a node's children. */
export function show(node, ...children) {
  node.replaceChildren();
  return build(node, {}, children);
}

/** A loading placeholder that screen readers announce. */
export function loading(what) {
  return h('p', { class: 'state', role: 'status' }, `Loading ${what}…`);
}

/** An error box that screen readers announce. */
export function failure(what, error) {
  return h('p', { class: 'state error', role: 'alert' }, `Could not load ${what}: ${error.message || error}`);
}
