// Copy buttons beside the admin pages' ids. The pages work without this
// script: each id is in the page in full (the stylesheet only shortens how
// it shows, so selecting it copies all of it, and its title shows it).
(function () {
  var nav = document.querySelector(".admin-nav[data-copy]");
  if (!nav || !navigator.clipboard) return;
  var label = nav.getAttribute("data-copy");
  var copied = nav.getAttribute("data-copied");
  document.querySelectorAll("code.id").forEach(function (code) {
    var id = code.textContent;
    var b = document.createElement("button");
    b.type = "button";
    b.className = "copy";
    b.textContent = label;
    b.setAttribute("aria-label", label + " " + id);
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(id).then(function () {
        b.textContent = copied;
        setTimeout(function () { b.textContent = label; }, 1500);
      });
    });
    code.after(b);
  });
})();
