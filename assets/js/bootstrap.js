// The Bootstrap JavaScript Bastion's pages need, from Bootstrap's ES module sources.
// Each module also registers its data API on import:
//   Alert    data-bs-dismiss="alert"   (dismissible flash messages)
//   Collapse data-bs-toggle="collapse" (the navbar toggler)
//   Modal    data-bs-toggle="modal"    (confirmations)
// Add a component here (and to the Sass build) when a template starts to use it.
import Alert from "bootstrap/js/src/alert.js";
import Collapse from "bootstrap/js/src/collapse.js";
import Modal from "bootstrap/js/src/modal.js";

export { Alert, Collapse, Modal };
