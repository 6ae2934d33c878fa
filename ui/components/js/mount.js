// Mounting: one view object per parent element, kept across Streamlit's reruns, handed the
// component's setters and each render's data.

const MOUNTED = new WeakMap(); // parent element -> view

// The view of component.parentElement (made with new View(parentElement) on first use), with
// its setters refreshed, after render(view, data).
function mount(component, View, render) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  let view = MOUNTED.get(parentElement);
  if (!view) {
    view = new View(parentElement);
    MOUNTED.set(parentElement, view);
  }
  view.setters = { setStateValue, setTriggerValue };
  render(view, data);
  return view;
}
