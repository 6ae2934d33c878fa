"""Pictures: plotly figures, PNG rasters, the tour's and the atlas's figures, colours
(``style``) and presenter-mode sizes."""
