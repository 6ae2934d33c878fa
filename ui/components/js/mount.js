// Mounting: one view object per parent element, kept across Streamlit's reruns, handed the
// component's setters and each render's data.

const MOUNTED = new WeakMap(); // parent element -> view

// The view of component.parentElement (made with new View(parentElement, key) on first use,
// key: the component's key in Python), with its setters refreshed, after render(view, data).
function mount(component, View, render) {
  const { data, parentElement, setStateValue, setTriggerValue, key } = component;
  let view = MOUNTED.get(parentElement);
  if (!view) {
    view = new View(parentElement, key);
    MOUNTED.set(parentElement, view);
  }
  view.setters = { setStateValue, setTriggerValue };
  render(view, data);
  return view;
}
