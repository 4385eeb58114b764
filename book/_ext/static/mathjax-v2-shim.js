// The Jupyter widgets HTML manager (1.0.x) typesets widget labels with MathJax 2's
// MathJax.Hub.Queue; the book loads MathJax 3, which has no Hub. This deferred script
// runs after MathJax 3 (also deferred) and before the widgets render, and maps the
// old call onto MathJax 3's typesetPromise.
(function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub || typeof mj.typesetPromise !== "function") { return; }
  mj.Hub = {
    Queue: function (job) {
      var element = Array.isArray(job) ? job[2] : undefined;
      mj.typesetPromise(element ? [element] : undefined).catch(function (err) {
        console.warn("MathJax typeset of a widget label failed:", err);
      });
    },
  };
})();
