"""The slice view: a QGraphicsView showing one slice, its labels and the AI preview."""
