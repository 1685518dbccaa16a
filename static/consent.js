// Select all / none on the consent page. The page works without it: every
// scope starts ticked and each box can be changed by hand.
(function () {
  var tools = document.querySelector(".select-tools");
  if (!tools) return;
  tools.hidden = false;
  tools.addEventListener("click", function (e) {
    var which = e.target.getAttribute("data-select");
    if (!which) return;
    document.querySelectorAll('#consent input[name="granted"]').forEach(function (box) {
      box.checked = which === "all";
    });
  });
})();
