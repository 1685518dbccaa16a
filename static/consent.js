// The consent page's enhancements; the page works without them (the
// server answers an approval with nothing ticked by showing the page again
// with a message).
//  - Select all / none.
//  - While nothing is ticked, "Autorizar" is disabled and a line says why:
//    pressing it could only ask again.
//  - A choice of resources (issue 17): ticking a resource chooses "only
//    these", and the summary's line of the scope says what the choice
//    reaches as it changes (the stylesheet hides the list while "all" is
//    chosen).
(function () {
  var form = document.getElementById("consent");
  if (!form) return;
  var boxes = form.querySelectorAll('input[name="granted"]');
  var approve = form.querySelector('button[name="decision"][value="approve"]');
  var hint = document.getElementById("tick-one");
  function update() {
    var any = Array.prototype.some.call(boxes, function (box) { return box.checked; });
    if (approve) approve.disabled = !any;
    if (hint) hint.hidden = any;
  }
  var tools = form.querySelector(".select-tools");
  if (tools) {
    tools.hidden = false;
    tools.addEventListener("click", function (e) {
      var which = e.target.getAttribute("data-select");
      if (!which) return;
      boxes.forEach(function (box) { box.checked = which === "all"; });
      update();
    });
  }
  function reach(choice) {
    var scope = choice.getAttribute("data-scope");
    var line = document.getElementById("reach-" + scope);
    var text = line && line.querySelector(".reach-text");
    if (!text) return;
    var some = choice.querySelector('input[type="radio"][value="some"]');
    if (!some || !some.checked) {
      text.textContent = line.getAttribute("data-all");
      return;
    }
    var names = Array.prototype.filter.call(choice.querySelectorAll('input[type="checkbox"]'), function (box) {
      return box.checked;
    }).map(function (box) { return box.getAttribute("data-label"); });
    if (names.length === 0) {
      text.textContent = line.getAttribute("data-none");
      return;
    }
    var joined = names.length < 2 ? names.join("") :
      names.slice(0, -1).join(", ") + " " + line.getAttribute("data-and") + " " + names[names.length - 1];
    text.textContent = line.getAttribute("data-some-before") + joined + line.getAttribute("data-some-after");
  }
  form.addEventListener("change", function (e) {
    var choice = e.target.closest && e.target.closest(".resource-choice");
    if (choice) {
      if (e.target.type === "checkbox" && e.target.checked) {
        var some = choice.querySelector('input[type="radio"][value="some"]');
        if (some) some.checked = true;
      }
      reach(choice);
    }
    update();
  });
  update();
})();
