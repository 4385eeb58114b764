// Small reader-facing fixes to the built pages (see book/_ext/book_site.py).
(function () {
  "use strict";

  // 1. Static widget views. The book shows each explorer from its saved widget state,
  //    with no kernel behind it: moving a slider would change its readout but never the
  //    picture. Before the widget manager reads the state (it starts on DOMContentLoaded,
  //    after this listener), every control is marked disabled, and each explorer that has
  //    controls gets a note saying it is a snapshot.
  var NOTE = "Static snapshot: run the notebook to interact.";

  function modelIds(value, out) {
    if (typeof value === "string") {
      if (value.indexOf("IPY_MODEL_") === 0) { out.push(value.slice(10)); }
    } else if (Array.isArray(value)) {
      value.forEach(function (v) { modelIds(v, out); });
    } else if (value && typeof value === "object") {
      Object.keys(value).forEach(function (k) { modelIds(value[k], out); });
    }
    return out;
  }

  function freezeWidgets() {
    var models = {};
    var controls = {};
    document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]').forEach(function (tag) {
      var data;
      try { data = JSON.parse(tag.textContent); } catch (err) { return; }
      var state = (data && data.state) || {};
      Object.keys(state).forEach(function (id) {
        var s = state[id].state || {};
        models[id] = s;
        if (Object.prototype.hasOwnProperty.call(s, "disabled")) { s.disabled = true; controls[id] = true; }
      });
      tag.textContent = JSON.stringify(data);
    });
    var memo = {};
    function hasControl(id) {
      if (id in memo) { return memo[id]; }
      memo[id] = false;  // guards against cycles
      var found = !!controls[id] || modelIds(models[id] || {}, []).some(hasControl);
      memo[id] = found;
      return found;
    }
    document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').forEach(function (view) {
      var id;
      try { id = JSON.parse(view.textContent).model_id; } catch (err) { return; }
      if (!id || !hasControl(id) || !view.parentNode) { return; }
      var note = document.createElement("p");
      note.className = "widget-static-note";
      note.textContent = NOTE;
      view.parentNode.insertBefore(note, view);
      view.parentNode.classList.add("widget-static");
    });
  }

  // 2. Equations wider than the column (phones). A display equation up to 1/0.7 times
  //    too wide is set in a smaller size until it fits; a wider one keeps that size and
  //    scrolls sideways inside its own box. Inline math that is too wide for its line gets
  //    such a box too (only those: ordinary inline math keeps its baseline).
  var MIN_SCALE = 0.7;

  function fitWideMath() {
    document.querySelectorAll("mjx-container").forEach(function (m) {
      m.style.fontSize = "";
      m.classList.remove("math-wide");
      var display = m.getAttribute("display") === "true";
      var column = display ? m : (m.closest("p, li, dd, td, .cell_output, section") || m.parentElement);
      if (!display) {
        if (!column || m.getBoundingClientRect().width <= column.clientWidth) { return; }
        m.classList.add("math-wide");
      }
      var ratio = m.clientWidth / m.scrollWidth;
      if (ratio < 1) { m.style.fontSize = Math.max(ratio, MIN_SCALE) * 100 + "%"; }
    });
  }

  function whenMathIsTypeset(fn) {
    var tries = 0;
    (function wait() {
      var mj = window.MathJax;
      if (mj && mj.startup && mj.startup.promise) { mj.startup.promise.then(fn); return; }
      if (tries++ < 100) { setTimeout(wait, 100); }
    })();
  }

  function onReady() {
    freezeWidgets();
    whenMathIsTypeset(fitWideMath);
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(fitWideMath, 150);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onReady);
  } else {
    onReady();
  }
})();
