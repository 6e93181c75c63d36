//! The identicon, drawn as SVG from the comment's avatar seed (same drawing as the server's).

use leptos::prelude::*;
use talkback_api::Identicon;

pub(crate) fn avatar(seed: &str) -> impl IntoView + use<> {
    let icon = Identicon::from_seed(seed);
    let cells: Vec<_> = icon
        .filled()
        .map(|(x, y)| view! { <rect x=x.to_string() y=y.to_string() width="1" height="1" /> })
        .collect();
    view! {
        <svg class="tb-avatar" part="avatar" viewBox="-1 -1 7 7" aria-hidden="true">
            <rect x="-1" y="-1" width="7" height="7" fill=format!("hsl({} 45% 92%)", icon.hue) />
            <g fill=format!("hsl({} 55% 45%)", icon.hue)>{cells}</g>
        </svg>
    }
}
